#pragma once
// ChatGLM2-6B's and ChatGLM3-6B's tokenizer (tokenization_chatglm.py of THUDM/chatglm2-6b and
// THUDM/chatglm3-6b, with the PreTrainedTokenizer of transformers 4.27.1, the version
// THUDM/ChatGLM2-6B's requirements.txt names; these rules hold up to 4.33, before 4.34 reworked
// added tokens), from tokenizer.model (SentencePiece) and tokenizer_config.json:
//
//  ids     the SentencePiece ids, then SPTokenizer's special tokens numbered after the n pieces:
//          [MASK] n, [gMASK] n+1, [sMASK] n+2, sop n+3, eop n+4 (n = 64789 in the release) and,
//          ChatGLM3 only, <|system|> n+5, <|user|> n+6, <|assistant|> n+7, <|observation|> n+8.
//          eos = the model's eos_id (2), bos its bos_id (1), pad = its unk_id (0: pad_token_id).
//  encode  tokenizer.encode(text, add_special_tokens=False): the whole text through SentencePiece
//          (EncodeAsPieces with the model's own normalizer and dummy prefix, then PieceToId).
//          Nothing is cut out of the text: the config names no special token transformers
//          4.27 would split on, and ChatGLM3 writes role tokens only through get_command /
//          build_single_message (its encode_special_tokens is off), so a literal "<|user|>" or
//          "[gMASK]" in the text is text.
//  decode  special ids -> their names (ChatGLM3, SPTokenizer.decode) or nothing (ChatGLM2, whose
//          convert_id_to_token gives ""), the rest SentencePiece-decoded.
//
// Which of the two a directory holds: kind_of_chatglm2_dir (below).
#include "data/text_tokenizer.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace glm3d {

inline constexpr const char* k_chatglm2_model_file = "tokenizer.model";
inline constexpr const char* k_chatglm2_config_file = "tokenizer_config.json";

// ChatGLM3's roles, in id order after eop.
inline constexpr const char* k_chatglm3_roles[] = {"system", "user", "assistant", "observation"};

class ChatGlm2Tokenizer final : public TextTokenizer {
public:
  // kind: "chatglm2" or "chatglm3". DIR holding tokenizer.model and tokenizer_config.json.
  static std::unique_ptr<ChatGlm2Tokenizer> load(const std::string& dir, const std::string& kind);
  // UsageError naming origin when the model is not SentencePiece (or one SentencePiece would crash
  // or throw on: data/sentencepiece_check.h), the config not a JSON object, or the config asks for
  // do_lower_case.
  static std::unique_ptr<ChatGlm2Tokenizer> from_bytes(const std::string& kind, std::string model,
                                                       std::string config_json, const std::string& origin);
  ~ChatGlm2Tokenizer() override;

  std::string kind() const override { return kind_; }
  int64_t vocab_size() const override; // pieces + 5 (ChatGLM2) or + 9 (ChatGLM3)
  const SpecialTokens& special() const override { return special_; }
  const std::string& sha256() const override { return sha256_; }
  std::vector<int32_t> encode(std::string_view text) const override;
  // [MASK] [gMASK] [sMASK] <sop> <eop> and ChatGLM3's <|system|> <|user|> <|assistant|>
  // <|observation|> written in the text become their ids (leftmost first), the text between
  // them is encoded (ChatGLM3's encode_special_tokens mode, with glm3d's <sop> / <eop> spellings
  // for sop / eop, whose bare words stay text).
  std::vector<int32_t> encode_with_special_tokens(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  TokenizerFiles files() const override;

  bool chatglm3() const { return kind_ == "chatglm3"; }
  int64_t pieces() const { return pieces_; }
  // ChatGLM3's <|role|> id (role: system, user, assistant, observation); UsageError for ChatGLM2
  // or another role.
  int32_t role_id(std::string_view role) const;
  // build_single_message(role, metadata, message): <|role|> + encode(metadata + "\n") + encode(message).
  std::vector<int32_t> single_message(std::string_view role, std::string_view metadata,
                                      std::string_view message) const;
  std::string special_name(int32_t id) const; // "[gMASK]", "sop", "<|user|>", ...; "" if none

private:
  ChatGlm2Tokenizer();
  std::string kind_, model_, config_, sha256_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  int64_t pieces_ = 0;
  SpecialTokens special_;
};

// Which tokenizer a directory with tokenizer.model + tokenizer_config.json holds: "chatglm3" or
// "chatglm2", from (first that tells) its tokenization_chatglm.py (ChatGLM3's names
// <|observation|>), tokenizer_config.json's name_or_path, config.json's _name_or_path (holding
// "chatglm3" / "chatglm2"); "" when none tells.
std::string kind_of_chatglm2_dir(const std::string& dir);

} // namespace glm3d
