// ChatGLM3 replies (infer/tool_call.h) as the model may write them: process_response with tools
// declared, which reads a call's code with the literal reader (infer/py_literal.h), and the reader
// on the whole input. Model output is untrusted: its only outcome may be a refusal (ToolCallError,
// std::invalid_argument, mapped to UsageError here), never a crash or another exception.
#include "infer/tool_call.h"
#include "core/check.h"
#include "fuzz_support.h"
#include "infer/py_literal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const std::string text(fuzz::bytes_of(data, size));
  fuzz::expect_usage_error_only([&] {
    try {
      chatglm3_process_response(text, true);
    } catch (const ToolCallError& e) {
      GLM3D_USAGE_FAIL() << e.what();
    }
  });
  fuzz::expect_usage_error_only([&] {
    try {
      parse_py_literal(text);
    } catch (const std::invalid_argument& e) {
      GLM3D_USAGE_FAIL() << e.what();
    }
  });
  return 0;
}
