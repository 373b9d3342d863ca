// The HDF5 SFT store of `glm3d prep sft` (data/sft_store.h): verify_sft_store, what `glm3d prep
// verify DIR` runs (manifest, tokenizer identity, every split file's attributes, datasets, CRC-32s
// and row layout), then SftStore::open and SftStore::read of the first and last example of each
// split, as the fine-tuning data source reads them.
// Input (fuzz_support.h split_two_files): sft_manifest.json, then the bytes of train.h5 (also
// written as valid.h5). The tokenizer is the committed seed tokenizer (corpus/tokenizer/) as
// tokenizer.model, whose sha256 the seed manifests carry.
#include "data/sft_store.h"
#include "fuzz_support.h"

#include <filesystem>
#include <fstream>
#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  namespace fs = std::filesystem;
  const fuzz::TwoFiles in = fuzz::split_two_files(data, size);
  std::error_code ec;
  fs::remove_all(fuzz::scratch_dir() + "/sft", ec);
  fs::create_directories(fuzz::scratch_dir() + "/sft");
  const std::string dir = fuzz::scratch_dir() + "/sft";
  fuzz::write_file("sft/" + std::string(k_sft_manifest_name), in.first);
  fuzz::write_file("sft/tokenizer.model", fuzz::seed_tokenizer_bytes());
  fuzz::write_file("sft/train.h5", in.second);
  fuzz::write_file("sft/valid.h5", in.second);
  fuzz::expect_usage_error_only([&] { (void)verify_sft_store(dir); });
  fuzz::expect_usage_error_only([&] {
    const SftStore store = SftStore::open(dir);
    for (const SftSplitInfo& s : store.manifest().splits) {
      (void)store.read(s.name, 0);
      (void)store.read(s.name, store.examples(s.name) - 1);
    }
  });
  return 0;
}
