#include "data/chatglm_tokenizer.h"

#include "core/check.h"
#include "data/checksum.h"
#include "data/prep_output.h"
#include "data/py_str.h"
#include "data/sentencepiece_check.h"

#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>

#include <charconv>
#include <climits>
#include <filesystem>

namespace glm3d {

namespace {

constexpr int k_max_blank_length = 80; // SPTokenizer(max_blank_length=80)

// A special token of tokenizer_config.json: a string, or an AddedToken object {"content": ...}.
std::string token_field(const nlohmann::json& cfg, const char* key, const char* fallback,
                        const std::string& origin) {
  const auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null())
    return fallback;
  if (it->is_string())
    return it->get<std::string>();
  GLM3D_USAGE_CHECK(it->is_object() && it->contains("content") && (*it)["content"].is_string())
      << origin << ": field '" << key << "' must be a string or an object with a string 'content'";
  return (*it)["content"].get<std::string>();
}

bool bool_field(const nlohmann::json& cfg, const char* key, const std::string& origin) {
  const auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null())
    return false;
  GLM3D_USAGE_CHECK(it->is_boolean()) << origin << ": field '" << key << "' must be true or false";
  return it->get<bool>();
}

// transformers' clean_up_tokenization (4.27), applied by decode().
std::string clean_up_tokenization(std::string s) {
  static const std::pair<const char*, const char*> rules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : rules)
    s = py::replace(s, from, to);
  return s;
}

std::string blank_token(int n) {
  return "<|blank_" + std::to_string(n) + "|>";
}

} // namespace

ChatGlmTokenizer::ChatGlmTokenizer() = default;
ChatGlmTokenizer::~ChatGlmTokenizer() = default;

std::unique_ptr<ChatGlmTokenizer> ChatGlmTokenizer::load(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string model = (fs::path(dir) / k_chatglm_model_file).string();
  const std::string config = (fs::path(dir) / k_chatglm_config_file).string();
  GLM3D_USAGE_CHECK(fs::is_regular_file(model) && fs::is_regular_file(config))
      << "ChatGLM tokenizer " << dir << " needs both " << k_chatglm_model_file << " and "
      << k_chatglm_config_file;
  return from_bytes(read_file_bytes(model, "tokenizer file"), read_file_bytes(config, "tokenizer file"), dir);
}

std::unique_ptr<ChatGlmTokenizer> ChatGlmTokenizer::from_bytes(std::string model, std::string config_json,
                                                               const std::string& origin) {
  // As Tokenizer::from_bytes: what SentencePiece would crash or throw on (data/sentencepiece_check.h).
  check_sentencepiece_model(model, "ChatGLM tokenizer " + origin + ": " + k_chatglm_model_file);
  std::unique_ptr<ChatGlmTokenizer> t(new ChatGlmTokenizer());
  t->sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = t->sp_->LoadFromSerializedProto(model);
  GLM3D_USAGE_CHECK(status.ok()) << "ChatGLM tokenizer " << origin << ": " << k_chatglm_model_file
                                 << " is not a SentencePiece model: " << status.ToString();
  const std::string cfg_origin = origin + "/" + k_chatglm_config_file;
  nlohmann::json cfg;
  try {
    cfg = nlohmann::json::parse(config_json);
  } catch (const nlohmann::json::parse_error& e) {
    GLM3D_USAGE_FAIL() << cfg_origin << ": not valid JSON: " << e.what();
  }
  GLM3D_USAGE_CHECK(cfg.is_object()) << cfg_origin << ": not a JSON object";
  if (cfg.contains("tokenizer_class")) {
    GLM3D_USAGE_CHECK(cfg["tokenizer_class"] == "ChatGLMTokenizer")
        << cfg_origin << ": tokenizer_class is " << cfg["tokenizer_class"].dump()
        << ", not \"ChatGLMTokenizer\"";
  }
  GLM3D_USAGE_CHECK(!bool_field(cfg, "do_lower_case", cfg_origin))
      << cfg_origin << ": do_lower_case true is not supported (Python's Unicode lower() is not reproduced)";
  t->remove_space_ = bool_field(cfg, "remove_space", cfg_origin);
  if (cfg.contains("num_image_tokens")) {
    GLM3D_USAGE_CHECK(cfg["num_image_tokens"].is_number_integer() &&
                      cfg["num_image_tokens"].get<int64_t>() >= 0)
        << cfg_origin << ": num_image_tokens must be a non-negative integer";
    t->num_image_tokens_ = cfg["num_image_tokens"].get<int64_t>();
  }
  // Token ids are int32 (the stores, the model): image tokens + pieces must fit.
  GLM3D_USAGE_CHECK(t->num_image_tokens_ <= INT32_MAX - int64_t(t->sp_->GetPieceSize()))
      << cfg_origin << ": num_image_tokens " << t->num_image_tokens_ << " + " << t->sp_->GetPieceSize()
      << " pieces exceed the int32 token ids (at most " << INT32_MAX << ")";
  // transformers' special-token attributes that the config sets: cut out of the text (step 1).
  for (const char* key :
       {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"})
    if (cfg.contains(key) && !cfg[key].is_null())
      t->no_split_.push_back(token_field(cfg, key, "", cfg_origin));
  if (cfg.contains("additional_special_tokens") && cfg["additional_special_tokens"].is_array())
    for (const auto& v : cfg["additional_special_tokens"])
      if (v.is_string())
        t->no_split_.push_back(v.get<std::string>());

  auto id_of = [&](const std::string& piece) {
    const int id = t->sp_->PieceToId(piece);
    GLM3D_USAGE_CHECK(id >= 0 && t->sp_->IdToPiece(id) == piece)
        << "ChatGLM tokenizer " << origin << ": the special token " << piece << " is not a piece of "
        << k_chatglm_model_file;
    return int32_t(id + t->num_image_tokens_);
  };
  SpecialTokens& s = t->special_;
  s.mask = id_of(token_field(cfg, "mask_token", "[MASK]", cfg_origin));
  s.gmask = id_of(token_field(cfg, "gmask_token", "[gMASK]", cfg_origin));
  s.smask = id_of("[sMASK]"); // SPTokenizer.special_tokens, not a config field
  s.sop = id_of(token_field(cfg, "bos_token", "<sop>", cfg_origin));
  s.eop = id_of(token_field(cfg, "eos_token", "<eop>", cfg_origin));
  s.eos = id_of(token_field(cfg, "end_token", "</s>", cfg_origin));
  s.pad = id_of(token_field(cfg, "pad_token", "<pad>", cfg_origin));
  t->model_ = std::move(model);
  t->config_ = std::move(config_json);
  t->sha256_ = sha256_hex("chatglm\n" + sha256_hex(t->model_) + "\n" + sha256_hex(t->config_) + "\n");
  return t;
}

int64_t ChatGlmTokenizer::vocab_size() const {
  return num_image_tokens_ + sp_->GetPieceSize();
}

TokenizerFiles ChatGlmTokenizer::files() const {
  return {{k_chatglm_model_file, model_}, {k_chatglm_config_file, config_}};
}

std::vector<std::pair<std::string, bool>> ChatGlmTokenizer::split_special(std::string_view text) const {
  // Leftmost, then longest literal special token (transformers' Trie.split).
  std::vector<std::pair<std::string, bool>> parts;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t best = std::string_view::npos, best_len = 0;
    for (const std::string& tok : no_split_) {
      const size_t at = tok.empty() ? std::string_view::npos : text.find(tok, pos);
      if (at < best || (at == best && at != std::string_view::npos && tok.size() > best_len))
        best = at, best_len = tok.size();
    }
    const size_t end = best == std::string_view::npos ? text.size() : best;
    if (end > pos)
      parts.emplace_back(std::string(text.substr(pos, end - pos)), false);
    if (best == std::string_view::npos)
      break;
    parts.emplace_back(std::string(text.substr(best, best_len)), true);
    pos = best + best_len;
  }
  // Whitespace next to a special token is stripped on that side, in order (tokenize()'s loop).
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].second)
      continue;
    if (i + 1 < parts.size() && !parts[i + 1].first.empty())
      parts[i + 1].first = std::string(py::lstrip(parts[i + 1].first));
    if (i > 0 && !parts[i - 1].first.empty())
      parts[i - 1].first = std::string(py::rstrip(parts[i - 1].first));
  }
  std::vector<std::pair<std::string, bool>> kept;
  for (auto& p : parts)
    if (!p.first.empty())
      kept.push_back(std::move(p));
  return kept;
}

std::string ChatGlmTokenizer::preprocess(std::string_view part) const {
  std::string text(part);
  if (remove_space_) { // ChatGLMTokenizer.preprocess_text
    std::string joined;
    for (const std::string& w : py::split(text))
      joined += (joined.empty() ? "" : " ") + w;
    text = joined;
  }
  text = py::replace(text, "\n", "<n>"); // SPTokenizer._preprocess
  text = py::replace(text, "\t", "<|tab|>");
  for (int n = k_max_blank_length; n >= 2; --n)
    text = py::replace(text, std::string(size_t(n), ' '), blank_token(n));
  return text;
}

std::vector<std::string> ChatGlmTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (const auto& [part, special] : split_special(text)) {
    if (special) {
      out.push_back(part);
      continue;
    }
    std::vector<std::string> pieces;
    const auto status = sp_->Encode(preprocess(part), &pieces);
    GLM3D_CHECK(status.ok()) << "SentencePiece encode failed: " << status.ToString();
    out.insert(out.end(), pieces.begin(), pieces.end());
  }
  return out;
}

int32_t ChatGlmTokenizer::piece_to_id(const std::string& piece) const {
  // SPTokenizer.__getitem__(str): "<image_N>" is image token N. Only for N below
  // num_image_tokens (Python returns any N, the id of another token or none): otherwise, and for
  // a number too long to parse, the piece is looked up as any other.
  if (piece.size() > 8 && piece.rfind("<image_", 0) == 0 && piece.back() == '>' &&
      piece.find_first_not_of("0123456789", 7) == piece.size() - 1) {
    int64_t n = -1;
    const char* first = piece.data() + 7;
    const auto [end, ec] = std::from_chars(first, piece.data() + piece.size() - 1, n);
    if (ec == std::errc() && n < num_image_tokens_)
      return int32_t(n);
  }
  return int32_t(sp_->PieceToId(piece) + num_image_tokens_);
}

std::string ChatGlmTokenizer::id_to_piece(int32_t id) const {
  GLM3D_CHECK(id >= 0 && id < vocab_size()) << "token id " << id << " outside [0, " << vocab_size() << ")";
  if (id < num_image_tokens_) // SPTokenizer.__getitem__(int)
    return "<image_" + std::to_string(id) + ">";
  return sp_->IdToPiece(int(id - num_image_tokens_));
}

std::vector<int32_t> ChatGlmTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  for (const std::string& piece : tokenize(text))
    ids.push_back(piece_to_id(piece));
  return ids;
}

std::string ChatGlmTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::vector<std::string> pieces;
  for (int32_t id : ids)
    if (id != special_.pad)
      pieces.push_back(id_to_piece(id));
  std::string text;
  const auto status = sp_->Decode(pieces, &text);
  GLM3D_CHECK(status.ok()) << "SentencePiece decode failed: " << status.ToString();
  text = py::replace(text, "<n>", "\n"); // SPTokenizer.postprocess
  text = py::replace(text, "<|tab|>", "\t");
  for (int n = 2; n <= k_max_blank_length; ++n)
    text = py::replace(text, blank_token(n), std::string(size_t(n), ' '));
  return clean_up_tokenization(text);
}

} // namespace glm3d
