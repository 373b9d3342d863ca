// A P-tuning v2 prefix checkpoint (model/ptuning_format.h): identify_adapter, what `glm3d
// generate --ptuning FILE` calls, then read_ptuning_checkpoint for a ChatGLM-6B-shaped model of
// 2 layers, hidden 8, 4 prefix tokens, without and with prefix_projection (config.json agreement,
// the tensors' names, shapes and values through SafetensorsReader).
// Input (fuzz_support.h split_two_files): config.json (none when empty), then model.safetensors.
#include "fuzz_support.h"
#include "infer/adapter_file.h"
#include "model/ptuning_format.h"

#include <filesystem>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  namespace fs = std::filesystem;
  const fuzz::TwoFiles in = fuzz::split_two_files(data, size);
  const std::string dir = fuzz::scratch_dir() + "/ptuning";
  fs::create_directories(dir);
  std::error_code ec;
  fs::remove(dir + "/config.json", ec);
  if (!in.first.empty())
    fuzz::write_file("ptuning/config.json", in.first);
  const std::string weights = fuzz::write_file("ptuning/model.safetensors", in.second);
  fuzz::expect_usage_error_only([&] { (void)identify_adapter("", weights); });
  for (const bool projection : {false, true}) {
    PrefixEncoderSpec spec;
    spec.pre_seq_len = 4;
    spec.prefix_projection = projection;
    spec.num_layers = 2;
    spec.hidden_size = 8;
    spec.kv_width = 8;
    fuzz::expect_usage_error_only([&] { (void)read_ptuning_checkpoint(dir, spec); });
  }
  return 0;
}
