// JSONL input of `glm3d prep` (data/text_input.h): read_documents on a file named .jsonl, as prep
// calls it: gzip by its magic bytes (zlib), UTF-8 check, nlohmann/json per line, the "text" field.
#include "data/text_input.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const std::string path = fuzz::write_file("input.jsonl", fuzz::bytes_of(data, size));
  fuzz::expect_usage_error_only([&] { (void)read_documents(path, InputFormat::auto_detect, "text"); });
  return 0;
}
