#include "model/chatglm_convert.h"

#include "core/check.h"
#include "core/checked_int.h"
#include "core/json_error.h"

#include <nlohmann/json.hpp>

#include <sstream>

namespace glm3d {

namespace {
const std::pair<const char*, const char*> k_special[] = {{"bos_token_id", "bos"},
                                                         {"eos_token_id", "eos"},
                                                         {"mask_token_id", "mask"},
                                                         {"gmask_token_id", "gmask"},
                                                         {"pad_token_id", "pad"}};
} // namespace

ModelConfig chatglm_config(const std::string& config_json, const std::string& file,
                           std::map<std::string, int64_t>& special) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(config_json);
  } catch (const nlohmann::json::exception& e) {
    GLM3D_USAGE_FAIL() << file << ": not valid JSON: " << json_error_text(e);
  }
  GLM3D_USAGE_CHECK(config.is_object()) << file << ": not a JSON object";
  // An optional field of the wanted kind, or nullptr.
  auto optional = [&](const char* key, bool integer) -> const nlohmann::json* {
    const auto it = config.find(key);
    return it != config.end() && (integer ? it->is_number_integer() : it->is_number()) ? &*it : nullptr;
  };
  auto required = [&](const char* key) {
    const nlohmann::json* v = optional(key, true);
    GLM3D_USAGE_CHECK(v) << file << ": missing integer field '" << key << "'";
    GLM3D_USAGE_CHECK(v->is_number_unsigned() && v->get<uint64_t>() > 0 && v->get<uint64_t>() <= INT64_MAX)
        << file << ": field '" << key << "' must be a positive integer, got " << v->dump();
    return v->get<int64_t>();
  };
  ModelConfig c = preset_config("chatglm-6b");
  c.name = "chatglm-import";
  c.hidden = required("hidden_size");
  c.num_layers = required("num_layers");
  c.num_heads = required("num_attention_heads");
  c.vocab = required("vocab_size");
  const nlohmann::json* inner = optional("inner_hidden_size", true);
  const std::optional<int64_t> four_h = checked_mul(int64_t(4), c.hidden); // ChatGLM's default width
  GLM3D_USAGE_CHECK(inner || four_h) << file << ": hidden_size " << c.hidden << " is too large";
  c.ffn_hidden = inner ? inner->get<int64_t>() : *four_h;
  if (const nlohmann::json* eps = optional("layernorm_epsilon", false))
    c.ln_eps = eps->get<double>();
  if (const nlohmann::json* s = optional("max_sequence_length", true))
    c.seq_len = s->get<int64_t>();
  const auto pe = config.find("position_encoding_2d");
  c.rope = pe != config.end() && pe->is_boolean() && !pe->get<bool>() ? RopeKind::one_d : RopeKind::two_d;
  c.ffn = FfnKind::gelu;
  for (const auto& [key, name] : k_special)
    if (const nlohmann::json* v = optional(key, true))
      special[name] = v->get<int64_t>();
  return c;
}

std::string chatglm_config_json(const ModelConfig& c, const std::map<std::string, int64_t>& special,
                                const std::string& torch_dtype) {
  std::ostringstream os;
  os.precision(17);
  os << "{\n  \"architectures\": [\"ChatGLMModel\"],\n  \"model_type\": \"chatglm\",\n"
     << "  \"hidden_size\": " << c.hidden << ",\n  \"num_layers\": " << c.num_layers
     << ",\n  \"num_attention_heads\": " << c.num_heads << ",\n  \"vocab_size\": " << c.vocab
     << ",\n  \"inner_hidden_size\": " << c.ffn_hidden << ",\n  \"layernorm_epsilon\": " << c.ln_eps
     << ",\n  \"max_sequence_length\": " << c.seq_len
     << ",\n  \"position_encoding_2d\": " << (c.rope == RopeKind::two_d ? "true" : "false")
     << ",\n  \"glm3d_ffn\": \"" << (c.ffn == FfnKind::geglu ? "geglu" : "gelu") << "\""
     << ",\n  \"torch_dtype\": \"" << torch_dtype << "\"";
  for (const auto& [key, name] : k_special)
    if (const auto it = special.find(name); it != special.end())
      os << ",\n  \"" << key << "\": " << it->second;
  os << "\n}\n";
  return os.str();
}

std::string chatglm_name(const std::string& n) {
  return "transformer." + n;
}

} // namespace glm3d
