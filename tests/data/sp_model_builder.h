#pragma once
// Hand-built SentencePiece models for tests: the ModelProto written field by field (protobuf
// wire format, sentencepiece_model.proto), so the pieces, their ids, types and scores are
// exactly what a test says, and tokenizations can be worked out by hand (unigram Viterbi: the
// segmentation with the highest summed score).
#include <cstdint>
#include <string>
#include <vector>

namespace glm3d::test {

// sentencepiece_model.proto ModelProto.SentencePiece.Type
enum SpType { sp_normal = 1, sp_unknown = 2, sp_control = 3, sp_user_defined = 4, sp_unused = 5 };

struct SpPiece {
  std::string piece;
  float score = 0;
  int type = sp_normal;
};

struct SpModel {
  std::vector<SpPiece> pieces;
  bool add_dummy_prefix = true, remove_extra_whitespaces = false;
  int unk_id = 0, bos_id = 1, eos_id = 2, pad_id = 3;
};

std::string serialize_sp_model(const SpModel& m); // a unigram model with the identity normalizer

// A tokenizer in ChatGLM-6B's layout (ice_text.model of THUDM/chatglm-6b): <unk> <s> </s> <pad>
// at 0-3, <n> <|tab|> <|blank_2|>..<|blank_80|> (user-defined) at 4-84, then the text pieces of
// chatglm_text_pieces() (score -1 each: the fewest pieces win), UNUSED fillers up to 130000,
// [MASK] [gMASK] [sMASK] <unused_0> <sop> <eop> <ENC> <dBLOCK> at 130000-130007, fillers up to
// 130528 pieces.
SpModel chatglm_layout_model();
const std::vector<std::string>& chatglm_text_pieces(); // in id order from 85
inline constexpr int k_chatglm_first_text_piece = 85;

// chatglm-6b's tokenizer_config.json at 8b7d335 (num_image_tokens 0); extra: more fields (JSON
// members, e.g. "\"remove_space\": true") replacing the defaults; without_image_tokens_field: the
// config without "num_image_tokens" (the code's default 20000 then applies).
std::string chatglm_tokenizer_config(const std::string& extra = "", bool without_image_tokens_field = false);

// Writes DIR/ice_text.model and DIR/tokenizer_config.json (DIR created); returns DIR.
std::string write_chatglm_tokenizer(const std::string& dir, const std::string& config);

// A tokenizer.model in ChatGLM2/3's layout: <unk> <s> </s> at 0-2 (unk, bos, eos), the text pieces
// of chatglm2_text_pieces() from 3 (score -1 each: the fewest pieces win), then unused fillers
// up to `pieces` (0: none; 64789 gives the release's special ids).
SpModel chatglm2_layout_model(int pieces = 0);
const std::vector<std::string>& chatglm2_text_pieces(); // in id order from 3

// tokenizer_config.json of THUDM/chatglm2-6b / chatglm3-6b (name_or_path names the model;
// "" leaves it out, so nothing in the file tells the two apart).
std::string chatglm2_tokenizer_config(const std::string& name_or_path);

// Writes DIR/tokenizer.model (chatglm2_layout_model(pieces)) and DIR/tokenizer_config.json.
std::string write_chatglm2_tokenizer(const std::string& dir, const std::string& config, int pieces = 0);

} // namespace glm3d::test
