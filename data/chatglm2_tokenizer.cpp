#include "data/chatglm2_tokenizer.h"

#include "core/check.h"
#include "data/checksum.h"
#include "data/prep_output.h"
#include "data/sentencepiece_check.h"

#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace glm3d {

namespace fs = std::filesystem;

namespace {

// SPTokenizer's special tokens after the pieces, in order.
const char* const k_specials[] = {"[MASK]",   "[gMASK]",       "[sMASK]",        "sop", "eop", "<|system|>",
                                  "<|user|>", "<|assistant|>", "<|observation|>"};

std::string read_small(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// "chatglm3" / "chatglm2" when text names one of them (checked in that order), else "".
std::string kind_named_in(const std::string& text) {
  for (const char* k : {"chatglm3", "chatglm2"})
    if (text.find(k) != std::string::npos)
      return k;
  return "";
}

// The string at key of a JSON file's object, "" when absent or not JSON.
std::string json_string_field(const fs::path& p, const char* key) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec))
    return "";
  const nlohmann::json j = nlohmann::json::parse(read_small(p), nullptr, false);
  if (!j.is_object() || !j.contains(key) || !j[key].is_string())
    return "";
  return j[key].get<std::string>();
}

} // namespace

std::string kind_of_chatglm2_dir(const std::string& dir) {
  std::error_code ec;
  const fs::path code = fs::path(dir) / "tokenization_chatglm.py";
  if (fs::is_regular_file(code, ec)) {
    const std::string py = read_small(code);
    if (py.find("<|observation|>") != std::string::npos)
      return "chatglm3";
    if (py.find("[gMASK]") != std::string::npos)
      return "chatglm2";
  }
  for (const char* key : {"name_or_path", "_name_or_path"}) {
    const std::string k = kind_named_in(json_string_field(fs::path(dir) / k_chatglm2_config_file, key));
    if (!k.empty())
      return k;
  }
  return kind_named_in(json_string_field(fs::path(dir) / "config.json", "_name_or_path"));
}

ChatGlm2Tokenizer::ChatGlm2Tokenizer() = default;
ChatGlm2Tokenizer::~ChatGlm2Tokenizer() = default;

std::unique_ptr<ChatGlm2Tokenizer> ChatGlm2Tokenizer::load(const std::string& dir, const std::string& kind) {
  const fs::path model = fs::path(dir) / k_chatglm2_model_file,
                 config = fs::path(dir) / k_chatglm2_config_file;
  std::error_code ec;
  GLM3D_USAGE_CHECK(fs::is_regular_file(model, ec) && fs::is_regular_file(config, ec))
      << "ChatGLM2/3 tokenizer " << dir << " needs both " << k_chatglm2_model_file << " and "
      << k_chatglm2_config_file;
  return from_bytes(kind, read_file_bytes(model.string(), "tokenizer file"),
                    read_file_bytes(config.string(), "tokenizer file"), dir);
}

std::unique_ptr<ChatGlm2Tokenizer> ChatGlm2Tokenizer::from_bytes(const std::string& kind, std::string model,
                                                                 std::string config_json,
                                                                 const std::string& origin) {
  GLM3D_USAGE_CHECK(kind == "chatglm2" || kind == "chatglm3")
      << "tokenizer " << origin << ": kind '" << kind << "' is not chatglm2 or chatglm3";
  // As Tokenizer::from_bytes: what SentencePiece would crash or throw on (data/sentencepiece_check.h).
  check_sentencepiece_model(model, "ChatGLM2/3 tokenizer " + origin + ": " + k_chatglm2_model_file);
  std::unique_ptr<ChatGlm2Tokenizer> t(new ChatGlm2Tokenizer());
  t->kind_ = kind;
  t->sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = t->sp_->LoadFromSerializedProto(model);
  GLM3D_USAGE_CHECK(status.ok()) << "ChatGLM2/3 tokenizer " << origin << ": " << k_chatglm2_model_file
                                 << " is not a SentencePiece model: " << status.ToString();
  const nlohmann::json cfg = nlohmann::json::parse(config_json, nullptr, false);
  GLM3D_USAGE_CHECK(cfg.is_object()) << "ChatGLM2/3 tokenizer " << origin << ": " << k_chatglm2_config_file
                                     << " is not a JSON object";
  const auto lower = cfg.find("do_lower_case");
  GLM3D_USAGE_CHECK(lower == cfg.end() || !lower->is_boolean() || !lower->get<bool>())
      << "ChatGLM2/3 tokenizer " << origin << ": do_lower_case true is not supported";
  t->pieces_ = t->sp_->GetPieceSize();
  GLM3D_USAGE_CHECK(t->sp_->eos_id() >= 0 && t->sp_->unk_id() >= 0)
      << "ChatGLM2/3 tokenizer " << origin << ": " << k_chatglm2_model_file << " has no eos or unk piece";
  const auto n = int32_t(t->pieces_);
  t->special_ = {n, n + 1, n + 2, n + 3, n + 4, t->sp_->eos_id(), t->sp_->unk_id()};
  t->model_ = std::move(model);
  t->config_ = std::move(config_json);
  t->sha256_ = sha256_hex(kind + "\n" + sha256_hex(t->model_) + "\n" + sha256_hex(t->config_) + "\n");
  return t;
}

int64_t ChatGlm2Tokenizer::vocab_size() const {
  return pieces_ + (chatglm3() ? 9 : 5);
}

std::vector<int32_t> ChatGlm2Tokenizer::encode(std::string_view text) const {
  std::vector<std::string> pieces;
  sp_->Encode(text, &pieces).IgnoreError();
  std::vector<int32_t> ids;
  ids.reserve(pieces.size());
  for (const std::string& p : pieces)
    ids.push_back(int32_t(sp_->PieceToId(p)));
  return ids;
}

std::vector<int32_t> ChatGlm2Tokenizer::encode_with_special_tokens(std::string_view text) const {
  std::vector<std::pair<std::string, int32_t>> names;
  for (int64_t k = 0; k < vocab_size() - pieces_; ++k)
    names.emplace_back(k == 3 ? "<sop>" : k == 4 ? "<eop>" : k_specials[k], int32_t(pieces_ + k));
  std::vector<int32_t> ids;
  size_t from = 0;
  for (;;) {
    size_t at = std::string_view::npos, len = 0;
    int32_t id = -1;
    for (const auto& [name, i] : names) {
      const size_t p = text.find(name, from);
      if (p < at)
        at = p, len = name.size(), id = i;
    }
    if (from < std::min(at, text.size())) {
      const std::vector<int32_t> part = encode(text.substr(from, std::min(at, text.size()) - from));
      ids.insert(ids.end(), part.begin(), part.end());
    }
    if (at == std::string_view::npos)
      return ids;
    ids.push_back(id);
    from = at + len;
  }
}

std::string ChatGlm2Tokenizer::special_name(int32_t id) const {
  const int64_t k = int64_t(id) - pieces_;
  return k >= 0 && k < vocab_size() - pieces_ ? k_specials[k] : "";
}

std::string ChatGlm2Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  std::vector<int> buffer;
  auto flush = [&] {
    std::string part;
    sp_->Decode(buffer, &part).IgnoreError();
    text += part;
    buffer.clear();
  };
  for (int32_t id : ids) {
    if (id >= pieces_) {
      flush();
      if (chatglm3())
        text += special_name(id);
    } else if (id >= 0) {
      buffer.push_back(id);
    }
  }
  flush();
  return text;
}

TokenizerFiles ChatGlm2Tokenizer::files() const {
  return {{k_chatglm2_model_file, model_}, {k_chatglm2_config_file, config_}};
}

int32_t ChatGlm2Tokenizer::role_id(std::string_view role) const {
  GLM3D_USAGE_CHECK(chatglm3()) << "role tokens (<|" << role << "|>) exist in ChatGLM3's tokenizer only, not "
                                << kind_ << "'s";
  for (int k = 0; k < 4; ++k)
    if (role == k_chatglm3_roles[k])
      return int32_t(pieces_ + 5 + k);
  GLM3D_USAGE_FAIL() << "unknown role '" << role << "' (expected system, user, assistant or observation)";
}

std::vector<int32_t> ChatGlm2Tokenizer::single_message(std::string_view role, std::string_view metadata,
                                                       std::string_view message) const {
  std::vector<int32_t> ids = {role_id(role)};
  const std::vector<int32_t> meta = encode(std::string(metadata) + "\n"), body = encode(message);
  ids.insert(ids.end(), meta.begin(), meta.end());
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

} // namespace glm3d
