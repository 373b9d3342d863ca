// A PEFT LoRA adapter directory (model/peft_format.h): identify_adapter, what `glm3d generate
// --adapter DIR` calls (adapter_config.json's peft_type and r), then read_peft_adapter against a
// ChatGLM-6B-shaped model of 2 layers, hidden 8 (config, target modules, every lora_A / lora_B
// tensor's shape and values through SafetensorsReader).
// Input (fuzz_support.h split_two_files): adapter_config.json, then adapter_model.safetensors.
#include "fuzz_support.h"
#include "infer/adapter_file.h"
#include "model/peft_format.h"

#include <filesystem>

namespace {
// query_key_value [3H, H], dense [H, H], dense_h_to_4h [4H, H], dense_4h_to_h [H, 4H] per layer.
std::vector<glm3d::LoraModule> micro_chatglm6b_modules() {
  using namespace glm3d;
  constexpr int64_t H = 8;
  std::vector<LoraModule> all;
  for (int64_t l = 0; l < 2; ++l) {
    all.push_back({chatglm_module_path(ChatGlmFamily::chatglm6b, l, "query_key_value"), H, 3 * H});
    all.push_back({chatglm_module_path(ChatGlmFamily::chatglm6b, l, "dense"), H, H});
    all.push_back({chatglm_module_path(ChatGlmFamily::chatglm6b, l, "dense_h_to_4h"), H, 4 * H});
    all.push_back({chatglm_module_path(ChatGlmFamily::chatglm6b, l, "dense_4h_to_h"), 4 * H, H});
  }
  return all;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  static const std::vector<LoraModule> all = micro_chatglm6b_modules();
  const fuzz::TwoFiles in = fuzz::split_two_files(data, size);
  const std::string dir = fuzz::scratch_dir() + "/adapter";
  std::filesystem::create_directories(dir);
  fuzz::write_file("adapter/adapter_config.json", in.first);
  fuzz::write_file("adapter/adapter_model.safetensors", in.second);
  fuzz::expect_usage_error_only([&] { (void)identify_adapter(dir, ""); });
  fuzz::expect_usage_error_only([&] { (void)read_peft_adapter(dir, all); });
  return 0;
}
