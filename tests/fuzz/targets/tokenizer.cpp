// A SentencePiece model (`glm3d prep --tokenizer MODEL`, DIR/tokenizer.model of a store):
// Tokenizer::from_bytes as Tokenizer::load calls it (SentencePiece's LoadFromSerializedProto, the
// special tokens), then what prep and the collator do with it: encode and decode a bilingual line,
// encode_with_special_tokens, the sentence-end table.
#include "data/tokenizer.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  fuzz::expect_usage_error_only([&] {
    const Tokenizer t = Tokenizer::from_bytes(std::string(fuzz::bytes_of(data, size)), "tokenizer.model");
    const std::vector<int32_t> ids = t.encode("Hello, world. \xE4\xBD\xA0\xE5\xA5\xBD\xE3\x80\x82 12 [MASK]");
    (void)t.decode(ids);
    (void)t.encode_with_special_tokens("a [gMASK] b <sop> c");
    (void)t.sentence_end_table();
  });
  return 0;
}
