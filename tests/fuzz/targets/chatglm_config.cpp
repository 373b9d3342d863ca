// ChatGLM `config.json` as `glm3d ckpt import` reads it: chatglm_config (nlohmann/json, the
// integer fields, special token ids), then validate and to_string (the import prints it).
#include "fuzz_support.h"
#include "model/chatglm_convert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  fuzz::expect_usage_error_only([&] {
    std::map<std::string, int64_t> special;
    const ModelConfig c = chatglm_config(std::string(fuzz::bytes_of(data, size)), "config.json", special);
    validate(c);
    (void)to_string(c);
  });
  return 0;
}
