// ChatGLM2-6B's and ChatGLM3-6B's tokenizer (`glm3d prep sft --tokenizer chatglm3-6b/`, an SFT
// store made with it; data/chatglm2_tokenizer.h): tokenizer.model (SentencePiece) +
// tokenizer_config.json, two files in one input (fuzz_support.h split_two_files), written to a
// directory. load_text_tokenizer(DIR, kind) as prep sft calls it, with no --tokenizer-kind
// (kind_of_chatglm2_dir reads tokenizer_config.json's name_or_path) and with chatglm2 and
// chatglm3; then what prep sft, finetune and generate do with it: encode (text, literal special
// tokens, newlines, Chinese), encode_with_special_tokens, ChatGLM3's single_message of each
// role, decode of what they gave and of every special id, and the copy an SFT store keeps
// (files(), text_tokenizer_from_files).
#include "data/chatglm2_tokenizer.h"
#include "data/text_tokenizer.h"
#include "fuzz_support.h"

#include <filesystem>

namespace {

using namespace glm3d;

void use(const TextTokenizer& t) {
  const std::string text = "[Round 1]\n\n\xE9\x97\xAE\xEF\xBC\x9A Hello,\tworld  [gMASK] <|user|> sop\n\n"
                           "\xE7\xAD\x94\xEF\xBC\x9A";
  const std::vector<int32_t> ids = t.encode(text);
  (void)t.decode(ids);
  const std::vector<int32_t> with =
      t.encode_with_special_tokens("[gMASK]<sop><|user|>\n a<|assistant|> b<eop>");
  (void)t.decode(with);
  const SpecialTokens& s = t.special();
  (void)t.decode({s.mask, s.gmask, s.smask, s.sop, s.eop, s.eos, s.pad, int32_t(t.vocab_size()), -1});
  if (const auto* g = dynamic_cast<const ChatGlm2Tokenizer*>(&t); g && g->chatglm3())
    for (const char* role : k_chatglm3_roles)
      (void)t.decode(g->single_message(role, "{\"k\": 1}", "x"));
  (void)text_tokenizer_from_files(t.kind(), t.files(), "SFT store copy")->encode(text);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  const fuzz::TwoFiles in = fuzz::split_two_files(data, size);
  const std::string dir = fuzz::scratch_dir() + "/chatglm2";
  std::error_code ec;
  fs::create_directories(dir, ec);
  fuzz::write_file(std::string("chatglm2/") + k_chatglm2_model_file, in.first);
  fuzz::write_file(std::string("chatglm2/") + k_chatglm2_config_file, in.second);
  for (const char* kind : {"", "chatglm2", "chatglm3"})
    fuzz::expect_usage_error_only([&] { use(*load_text_tokenizer(dir, kind)); });
  return 0;
}
