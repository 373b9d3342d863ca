// A token store shard (HDF5) with its manifest, as `glm3d prep verify` and the trainer read them.
// Input: a 2-byte little-endian length L, L bytes of manifest.txt, then the bytes of the one shard
// it lists (written as every shard name the manifest lists, so a manifest that names several
// files reads the same bytes for each). The tokenizer is the committed seed tokenizer
// (corpus/tokenizer/), whose sha256 the seed manifests carry. Runs verify_store (manifest,
// tokenizer, shard attributes, every token and doc offset, checksums) and TokenStore::read of the
// first and last tokens (the trainer's hyperslab reads).
#include "data/token_store.h"
#include "fuzz_support.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  namespace fs = std::filesystem;
  if (size < 2)
    return 0;
  const auto [manifest_bytes, shard] = fuzz::split_two_files(data, size);
  const std::string manifest(manifest_bytes);
  const std::string dir = fuzz::scratch_dir() + "/store";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  fuzz::write_file("store/" + std::string(k_manifest_name), manifest);
  fuzz::write_file("store/" + std::string(k_tokenizer_name), fuzz::seed_tokenizer_bytes());
  // Every `shard NAME ...` line's NAME (a plain file name: read_manifest refuses '/').
  std::istringstream lines(manifest);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream ls(line);
    std::string key, name;
    if (ls >> key >> name && key == "shard" && name.find('/') == std::string::npos && name != "." &&
        name != ".." && name != k_manifest_name && name != k_tokenizer_name)
      std::ofstream(dir + "/" + name, std::ios::binary).write(shard.data(), std::streamsize(shard.size()));
    // (a name the file system refuses, e.g. longer than 255 bytes, stays missing: the reader says so)
  }
  fuzz::expect_usage_error_only([&] {
    (void)verify_store(dir);
    const TokenStore store = TokenStore::open(dir);
    std::vector<uint32_t> out(16);
    const uint64_t n = std::min<uint64_t>(out.size(), store.total_tokens());
    store.read(0, n, out.data());
    store.read(store.total_tokens() - n, n, out.data());
  });
  return 0;
}
