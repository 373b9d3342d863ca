// Model INI file (`--model FILE.ini` of train, plan, bench slice): load_model_config, as the CLI
// calls it (read_ini, Boost.Program_options conversion, preset base, validate), then what the
// commands print and derive from the config: to_string (parameter count) and the FLOPs per token.
#include "fuzz_support.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const std::string path = fuzz::write_file("model.ini", fuzz::bytes_of(data, size));
  fuzz::expect_usage_error_only([&] {
    const ModelConfig c = load_model_config(path);
    (void)to_string(c);
    (void)training_flops_per_token(c);
  });
  return 0;
}
