#include "model/chatglm_convert.h"

#include "core/check.h"

#include <sstream>

namespace glm3d {

namespace {
const std::pair<const char*, const char*> k_special[] = {{"bos_token_id", "bos"},
                                                         {"eos_token_id", "eos"},
                                                         {"mask_token_id", "mask"},
                                                         {"gmask_token_id", "gmask"},
                                                         {"pad_token_id", "pad"}};
} // namespace

ModelConfig chatglm_config(const json::Value& config, const std::string& file,
                           std::map<std::string, int64_t>& special) {
  GLM3D_USAGE_CHECK(config.is_object()) << file << ": not a JSON object";
  auto field = [&](const char* key) -> const json::Value& {
    const json::Value* v = config.find(key);
    GLM3D_USAGE_CHECK(v && v->is_number()) << file << ": missing numeric field '" << key << "'";
    return *v;
  };
  ModelConfig c = preset_config("chatglm-6b");
  c.name = "chatglm-import";
  try {
    c.hidden = field("hidden_size").as_i64();
    c.num_layers = field("num_layers").as_i64();
    c.num_heads = field("num_attention_heads").as_i64();
    c.vocab = field("vocab_size").as_i64();
    const json::Value* inner = config.find("inner_hidden_size");
    c.ffn_hidden = inner && inner->is_number() ? inner->as_i64() : 4 * c.hidden;
    if (const json::Value* eps = config.find("layernorm_epsilon"); eps && eps->is_number())
      c.ln_eps = eps->as_f64();
    if (const json::Value* s = config.find("max_sequence_length"); s && s->is_number())
      c.seq_len = s->as_i64();
  } catch (const UsageError& e) {
    GLM3D_USAGE_FAIL() << file << ": " << e.what();
  }
  const json::Value* pe = config.find("position_encoding_2d");
  c.rope = pe && pe->kind == json::Value::Kind::boolean && !pe->b ? RopeKind::one_d : RopeKind::two_d;
  c.ffn = FfnKind::gelu;
  for (const auto& [key, name] : k_special)
    if (const json::Value* v = config.find(key); v && v->is_number())
      special[name] = v->as_i64();
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
