// JSONL inputs: the documents of `glm3d prep` (data/text_input.h): read_documents on a file named
// .jsonl, as prep calls it: gzip by its magic bytes (zlib), UTF-8 check, nlohmann/json per line,
// the "text" field; and the prompt file of `glm3d generate --input` (infer/prompt_input.h):
// read_prompt_file, then prompt_ids of each prompt with the seed tokenizer (special-token names).
#include "data/text_input.h"
#include "data/text_tokenizer.h"
#include "fuzz_support.h"
#include "infer/prompt_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const std::string path = fuzz::write_file("input.jsonl", fuzz::bytes_of(data, size));
  fuzz::expect_usage_error_only([&] { (void)read_documents(path, InputFormat::auto_detect, "text"); });
  static const SentencePieceTextTokenizer tokenizer(
      Tokenizer::from_bytes(fuzz::seed_tokenizer_bytes(), "tokenizer.model"));
  fuzz::expect_usage_error_only([&] {
    const std::vector<PromptInput> prompts = read_prompt_file(path);
    for (size_t i = 0; i < prompts.size(); ++i)
      (void)prompt_ids(prompts[i], &tokenizer, int64_t(i));
  });
  return 0;
}
