#pragma once
// The tokenizers prompt/answer data can be made with, behind one interface:
//   sentencepiece  glm3d's own (data/tokenizer.h): a SentencePiece model with the GLM special
//                  pieces, as trained by `glm3d prep --train-tokenizer` (file tokenizer.model)
//   chatglm        ChatGLM-6B's (data/chatglm_tokenizer.h): ice_text.model + tokenizer_config.json
//   chatglm2       ChatGLM2-6B's (data/chatglm2_tokenizer.h): tokenizer.model + tokenizer_config.json
//   chatglm3       ChatGLM3-6B's: the same files, with the role tokens after eop
//
//   auto tok = load_text_tokenizer("chatglm-6b/");     // or "store/tokenizer.model"
//   std::vector<int32_t> ids = tok->encode("[Round 0]\n问：你好\n答：");
//
// encode() is how the reference encodes a prompt or an answer for fine-tuning (ChatGLM-6B's
// ptuning/main.py: tokenizer.encode(text, add_special_tokens=False)); decode() its inverse for
// display. The tokenizer is stored with the data made with it (files()), and identified by
// sha256(): the data, the checkpoint and the tokenizer must agree.
#include "data/tokenizer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glm3d {

// (file name, bytes): what a store holds to reload the tokenizer.
using TokenizerFiles = std::vector<std::pair<std::string, std::string>>;

class TextTokenizer {
public:
  virtual ~TextTokenizer() = default;
  virtual std::string kind() const = 0; // "sentencepiece" | "chatglm" | "chatglm2" | "chatglm3"
  virtual int64_t vocab_size() const = 0;
  virtual const SpecialTokens& special() const = 0;
  virtual const std::string& sha256() const = 0; // identity (hex)
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // A prompt a user wrote for generation: the names of special tokens in it become their ids
  // (glm3d's: [MASK] [gMASK] [sMASK] <sop> <eop> <eos>; ChatGLM2/3's: data/chatglm2_tokenizer.h;
  // ChatGLM-6B's: encode(), which cuts out its own). Never for training text.
  virtual std::vector<int32_t> encode_with_special_tokens(std::string_view text) const {
    return encode(text);
  }
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual TokenizerFiles files() const = 0;
};

// glm3d's SentencePiece tokenizer behind the interface (encode: Tokenizer::encode, no special
// tokens from text).
class SentencePieceTextTokenizer final : public TextTokenizer {
public:
  explicit SentencePieceTextTokenizer(Tokenizer t) : t_(std::move(t)) {}
  const Tokenizer& tokenizer() const { return t_; }
  std::string kind() const override { return "sentencepiece"; }
  int64_t vocab_size() const override { return t_.vocab_size(); }
  const SpecialTokens& special() const override { return t_.special(); }
  const std::string& sha256() const override { return t_.sha256(); }
  std::vector<int32_t> encode(std::string_view text) const override { return t_.encode(text); }
  std::vector<int32_t> encode_with_special_tokens(std::string_view text) const override {
    return t_.encode_with_special_tokens(text);
  }
  std::string decode(const std::vector<int32_t>& ids) const override { return t_.decode(ids); }
  TokenizerFiles files() const override { return {{k_tokenizer_file, t_.model_bytes()}}; }
  static constexpr const char* k_tokenizer_file = "tokenizer.model";

private:
  Tokenizer t_;
};

// A tokenizer from a path:
//   an SFT store                                           -> the kind its manifest names
//   DIR holding ice_text.model (+ tokenizer_config.json)   -> chatglm (both files needed)
//   DIR holding tokenizer.model + tokenizer_config.json    -> chatglm2 or chatglm3
//                                                             (kind_of_chatglm2_dir, or `kind`)
//   DIR holding tokenizer.model alone (a token store)      -> sentencepiece
//   DIR/ice_text.model, DIR/tokenizer_config.json          -> as DIR
//   any other file                                         -> sentencepiece model file
// kind ("" or one of the four) settles a ChatGLM2/3 directory and must match what is found.
// UsageError naming the path when it is none of these, a file is unreadable or malformed, or a
// ChatGLM2/3 directory does not tell which it is and no kind is given.
std::unique_ptr<TextTokenizer> load_text_tokenizer(const std::string& path, const std::string& kind = "");

// The tokenizer of `kind` from its files (as files() returned them); origin names it in errors.
std::unique_ptr<TextTokenizer> text_tokenizer_from_files(const std::string& kind, const TokenizerFiles& files,
                                                         const std::string& origin);

} // namespace glm3d
