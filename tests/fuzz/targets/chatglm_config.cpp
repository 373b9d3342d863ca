// The JSON files of a Hugging Face directory as `glm3d ckpt import` reads them: `config.json`
// through ConfigJson (nlohmann/json), the ChatGLM-6B and the ChatGLM2/3 mappings (integer fields,
// special token ids), validate and to_string (the import prints it); and the same bytes as
// `model.safetensors.index.json` (read_weight_map: tensor name -> shard file).
#include "fuzz_support.h"
#include "model/chatglm2_convert.h"
#include "model/chatglm_convert.h"
#include "model/hf_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  fuzz::expect_usage_error_only([&] {
    const ConfigJson json(std::string(fuzz::bytes_of(data, size)), "config.json");
    std::map<std::string, int64_t> special;
    const ModelConfig c = chatglm_config(json, special);
    validate(c);
    (void)to_string(c);
  });
  fuzz::expect_usage_error_only([&] {
    const ConfigJson json(std::string(fuzz::bytes_of(data, size)), "config.json");
    std::map<std::string, int64_t> special;
    const ModelConfig c = chatglm2_config(json, true, 64794, special);
    validate(c);
    (void)to_string(c);
  });
  fuzz::expect_usage_error_only([&] {
    (void)read_weight_map(std::string(fuzz::bytes_of(data, size)), "model.safetensors.index.json");
  });
  return 0;
}
