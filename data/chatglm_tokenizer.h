#pragma once
// ChatGLM-6B's tokenizer (THUDM/chatglm-6b tokenization_chatglm.py at 8b7d335, with the
// PreTrainedTokenizer of transformers 4.27.1, the version its requirements name), from
// ice_text.model (SentencePiece) and tokenizer_config.json. The rules, as that code has them:
//
//  ids     id = SentencePiece id + num_image_tokens (tokenizer_config.json's, 20000 when absent:
//          SPTokenizer's default; the chatglm-6b config says 0, so [MASK] = piece 130000 = id
//          130000). Ids below num_image_tokens are image tokens "<image_N>".
//  special [MASK] [gMASK] [sMASK] <sop> <eop> </s> <pad> are looked up as pieces (mask_token,
//          gmask_token, "[sMASK]", bos_token, eos_token, end_token, pad_token of the config).
//  encode  (tokenizer.encode(text, add_special_tokens=False)):
//          1. text is cut at every literal special token of transformers' list (bos <sop>,
//             eos <eop>, unk <unk>, pad <pad>, mask [MASK]; not [gMASK], which is no such
//             attribute); each such token becomes its id, and the text on either side of it is
//             stripped of whitespace on that side (str.rstrip / str.lstrip); empty parts vanish.
//          2. each other part: remove_space -> " ".join(part.strip().split()); then "\n" -> "<n>",
//             "\t" -> "<|tab|>", runs of spaces -> "<|blank_N|>" for N = 80 down to 2 (str.replace
//             in that order, so 85 spaces are <|blank_80|><|blank_5|> and 81 are <|blank_80|> + " ");
//             then SentencePiece EncodeAsPieces (the model's own normalizer and dummy prefix).
//          3. each piece -> PieceToId + num_image_tokens ("<image_N>" -> N for N below
//             num_image_tokens; Python takes any N, glm3d looks a larger one up as a piece).
//  decode  pad ids dropped; id -> piece ("<image_N>" below num_image_tokens); DecodePieces;
//          "<n>" -> "\n", "<|tab|>" -> "\t", "<|blank_N|>" -> N spaces; then transformers'
//          clean_up_tokenization (" ." -> ".", " n't" -> "n't", ...).
//  do_lower_case true is refused (Python's Unicode lower() is not reproduced).
#include "data/text_tokenizer.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace glm3d {

inline constexpr const char* k_chatglm_model_file = "ice_text.model";
inline constexpr const char* k_chatglm_config_file = "tokenizer_config.json";

class ChatGlmTokenizer final : public TextTokenizer {
public:
  // DIR holding ice_text.model and tokenizer_config.json.
  static std::unique_ptr<ChatGlmTokenizer> load(const std::string& dir);
  // From the two files' bytes; origin names them in errors. UsageError when the model is not
  // SentencePiece, the config not JSON, or a special token is not a piece of the model.
  static std::unique_ptr<ChatGlmTokenizer> from_bytes(std::string model, std::string config_json,
                                                      const std::string& origin);
  ~ChatGlmTokenizer() override;

  std::string kind() const override { return "chatglm"; }
  int64_t vocab_size() const override; // num_image_tokens + pieces
  const SpecialTokens& special() const override { return special_; }
  const std::string& sha256() const override { return sha256_; }
  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  TokenizerFiles files() const override;

  int64_t num_image_tokens() const { return num_image_tokens_; }
  // Steps of encode, for tests: the parts of step 1 ((text, is_special) after stripping) ...
  std::vector<std::pair<std::string, bool>> split_special(std::string_view text) const;
  // ... step 2's text preprocessing (before SentencePiece) ...
  std::string preprocess(std::string_view part) const;
  // ... and the pieces of encode (special tokens by name).
  std::vector<std::string> tokenize(std::string_view text) const;
  int32_t piece_to_id(const std::string& piece) const; // step 3
  std::string id_to_piece(int32_t id) const;

private:
  ChatGlmTokenizer();
  std::string model_, config_, sha256_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  int64_t num_image_tokens_ = 20000;
  bool remove_space_ = false;
  std::vector<std::string> no_split_; // literal special tokens cut out of the text (step 1)
  SpecialTokens special_;
};

} // namespace glm3d
