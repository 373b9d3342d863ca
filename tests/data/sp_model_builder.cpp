#include "sp_model_builder.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace glm3d::test {

namespace {

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}

void tag(std::string& out, int field, int wire) {
  varint(out, uint64_t(field) << 3 | uint64_t(wire));
}

void field_varint(std::string& out, int field, uint64_t v) {
  tag(out, field, 0);
  varint(out, v);
}

void field_bytes(std::string& out, int field, const std::string& bytes) {
  tag(out, field, 2);
  varint(out, bytes.size());
  out += bytes;
}

void field_float(std::string& out, int field, float f) {
  tag(out, field, 5);
  char b[4];
  std::memcpy(b, &f, 4); // little-endian host
  out.append(b, 4);
}

} // namespace

std::string serialize_sp_model(const SpModel& m) {
  std::string out;
  for (const SpPiece& p : m.pieces) {
    std::string sp;
    field_bytes(sp, 1, p.piece);
    field_float(sp, 2, p.score);
    field_varint(sp, 3, uint64_t(p.type));
    field_bytes(out, 1, sp);
  }
  std::string trainer;
  field_varint(trainer, 3, 1); // model_type UNIGRAM
  field_varint(trainer, 4, m.pieces.size());
  field_varint(trainer, 40, uint64_t(m.unk_id));
  field_varint(trainer, 41, uint64_t(m.bos_id));
  field_varint(trainer, 42, uint64_t(m.eos_id));
  field_varint(trainer, 43, uint64_t(int64_t(m.pad_id))); // -1: none (protobuf's int32 -1: 10 bytes)
  field_bytes(out, 2, trainer);
  std::string norm;
  field_bytes(norm, 1, "identity");
  field_varint(norm, 3, m.add_dummy_prefix);
  field_varint(norm, 4, m.remove_extra_whitespaces);
  field_varint(norm, 5, 1); // escape_whitespaces: ' ' -> U+2581
  field_bytes(out, 3, norm);
  return out;
}

const std::vector<std::string>& chatglm_text_pieces() {
  static const std::vector<std::string> pieces = {
      "\u2581",      "a",           "b",         "c",        "d",
      "e",           "h",           "l",         "o",        "r",
      "w",           "s",           "t",         "n",        "R",
      "u",           "0",           "1",         "2",        "[",
      "]",           ".",           ",",         "'",        "\uff1a" /* ： */,
      "问",          "答",          "你",        "好",       "\u2581a",
      "\u2581b",     "ab",          "cd",        "\u2581ab", "\u2581cd",
      "\u2581hello", "\u2581world", "\u2581.",   "\u2581,",  "\u2581[",
      "Round",       "\u2581你好",  "\u2581n't", "\u2581's"};
  return pieces;
}

SpModel chatglm_layout_model() {
  SpModel m;
  auto add = [&](const std::string& p, float score, int type) { m.pieces.push_back({p, score, type}); };
  add("<unk>", 0, sp_unknown);
  add("<s>", 0, sp_control);
  add("</s>", 0, sp_control);
  add("<pad>", 0, sp_control);
  add("<n>", 0, sp_user_defined);
  add("<|tab|>", 0, sp_user_defined);
  for (int n = 2; n <= 80; ++n)
    add("<|blank_" + std::to_string(n) + "|>", 0, sp_user_defined);
  for (const std::string& p : chatglm_text_pieces())
    add(p, -1, sp_normal);
  int fill = 0;
  while (m.pieces.size() < 130000)
    add("<fill_" + std::to_string(fill++) + ">", 0, sp_unused);
  for (const char* p : {"[MASK]", "[gMASK]", "[sMASK]", "<unused_0>", "<sop>", "<eop>", "<ENC>", "<dBLOCK>"})
    add(p, 0, sp_user_defined);
  while (m.pieces.size() < 130528)
    add("<fill_" + std::to_string(fill++) + ">", 0, sp_unused);
  return m;
}

std::string chatglm_tokenizer_config(const std::string& extra, bool without_image_tokens_field) {
  std::string c = "{\n  \"name_or_path\": \"THUDM/chatglm-6b\",\n  \"bos_token\": \"<sop>\",\n"
                  "  \"eos_token\": \"<eop>\",\n  \"end_token\": \"</s>\",\n  \"gmask_token\": \"[gMASK]\",\n"
                  "  \"mask_token\": \"[MASK]\",\n  \"pad_token\": \"<pad>\",\n  \"unk_token\": \"<unk>\",\n";
  c += extra.empty() ? "  \"remove_space\": false,\n  \"do_lower_case\": false,\n" : "  " + extra + ",\n";
  c += "  \"tokenizer_class\": \"ChatGLMTokenizer\",\n";
  if (!without_image_tokens_field)
    c += "  \"num_image_tokens\": 0,\n";
  c += "  \"auto_map\": {\"AutoTokenizer\": [\"tokenization_chatglm.ChatGLMTokenizer\", null]}\n}\n";
  return c;
}

std::string write_chatglm_tokenizer(const std::string& dir, const std::string& config) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/ice_text.model", std::ios::binary) << serialize_sp_model(chatglm_layout_model());
  std::ofstream(dir + "/tokenizer_config.json") << config;
  return dir;
}

const std::vector<std::string>& chatglm2_text_pieces() {
  static const std::vector<std::string> pieces = {
      "\u2581", "a",  "b",  "c",  "\n",      "[",       "]",       "Round",    "\u2581[", "1",
      "2",      "问", "答", "：", "\u2581a", "ab",      "cd",      "\u2581ab", "<",       "|",
      "u",      "s",  "e",  "r",  ">",       "\u2581x", "\u2581c", "\u2581cd"};
  return pieces;
}

SpModel chatglm2_layout_model(int pieces) {
  SpModel m;
  m.pad_id = -1; // ChatGLM2/3's model has none: their pad is unk
  m.pieces = {{"<unk>", 0, sp_unknown}, {"<s>", 0, sp_control}, {"</s>", 0, sp_control}};
  for (const std::string& p : chatglm2_text_pieces())
    m.pieces.push_back({p, -1, sp_normal});
  for (int fill = 0; int(m.pieces.size()) < pieces; ++fill)
    m.pieces.push_back({"<fill_" + std::to_string(fill) + ">", 0, sp_unused});
  return m;
}

std::string chatglm2_tokenizer_config(const std::string& name_or_path) {
  std::string c = "{\n";
  if (!name_or_path.empty())
    c += "  \"name_or_path\": \"" + name_or_path + "\",\n";
  return c + "  \"remove_space\": false,\n  \"do_lower_case\": false,\n  \"tokenizer_class\": "
             "\"ChatGLMTokenizer\",\n"
             "  \"auto_map\": {\"AutoTokenizer\": [\"tokenization_chatglm.ChatGLMTokenizer\", null]}\n}\n";
}

std::string write_chatglm2_tokenizer(const std::string& dir, const std::string& config, int pieces) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer.model", std::ios::binary)
      << serialize_sp_model(chatglm2_layout_model(pieces));
  std::ofstream(dir + "/tokenizer_config.json") << config;
  return dir;
}

} // namespace glm3d::test
