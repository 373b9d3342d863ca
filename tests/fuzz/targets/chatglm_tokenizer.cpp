// ChatGLM-6B's tokenizer (`glm3d prep sft --tokenizer chatglm-6b/`, data/chatglm_tokenizer.h):
// ice_text.model (SentencePiece) + tokenizer_config.json, two files in one input (fuzz_support.h
// split_two_files). ChatGlmTokenizer::from_bytes as load() calls it, then what prep sft does with
// it: encode a prompt and an answer (literal special tokens, newlines, tabs, runs of blanks,
// Chinese), the special ids, decode of what encode gave and of every special id, files().
#include "data/chatglm_tokenizer.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const fuzz::TwoFiles in = fuzz::split_two_files(data, size);
  fuzz::expect_usage_error_only([&] {
    const auto t = ChatGlmTokenizer::from_bytes(std::string(in.first), std::string(in.second), "chatglm-6b");
    const std::vector<int32_t> ids = t->encode("[Round 0]\n\xE9\x97\xAE\xEF\xBC\x9A Hello,\tworld  [MASK] "
                                               "<sop>   x <image_7><image_99999999999999999999>\n"
                                               "\xE7\xAD\x94\xEF\xBC\x9A");
    (void)t->decode(ids);
    const SpecialTokens& s = t->special();
    (void)t->decode({s.mask, s.gmask, s.smask, s.sop, s.eop, s.eos});
    (void)t->tokenize("a" + std::string(85, ' ') + "b <eop>");
    (void)t->vocab_size();
    (void)t->files();
  });
  return 0;
}
