#include "model/chatglm_convert.h"

#include "core/check.h"
#include "core/checked_int.h"
#include "core/json_error.h"

#include <sstream>

namespace glm3d {

namespace {
const std::pair<const char*, const char*> k_special[] = {{"bos_token_id", "bos"},
                                                         {"eos_token_id", "eos"},
                                                         {"mask_token_id", "mask"},
                                                         {"gmask_token_id", "gmask"},
                                                         {"pad_token_id", "pad"}};
} // namespace

ModelConfig chatglm_config(const ConfigJson& j, std::map<std::string, int64_t>& special) {
  ModelConfig c = preset_config("chatglm-6b");
  c.name = "chatglm-import";
  c.hidden = j.integer("hidden_size");
  c.num_layers = j.integer("num_layers");
  c.num_heads = j.integer("num_attention_heads");
  c.vocab = j.integer("vocab_size");
  GLM3D_USAGE_CHECK(c.hidden > 0 && c.hidden <= (int64_t(1) << 40))
      << j.file() << ": field 'hidden_size' must be in [1, 2^40], got " << c.hidden;
  c.ffn_hidden = j.integer("inner_hidden_size", 4 * c.hidden); // 4 x hidden cannot overflow
  c.ln_eps = j.number("layernorm_epsilon", c.ln_eps);
  c.seq_len = j.integer("max_sequence_length", c.seq_len);
  c.rope = j.boolean("position_encoding_2d", true) ? RopeKind::two_d : RopeKind::one_d;
  c.ffn = FfnKind::gelu;
  for (const auto& [key, name] : k_special)
    if (const auto v = j.maybe_integer(key))
      special[name] = *v;
  return c;
}

std::string chatglm_config_json(const ModelConfig& c, const std::map<std::string, int64_t>& special,
                                const std::string& torch_dtype) {
  auto need = [&](bool ok, const char* field, const std::string& have, const std::string& want) {
    GLM3D_USAGE_CHECK(ok) << "model '" << c.name << "' cannot be written as ChatGLM-6B: " << field << " is "
                          << have << ", ChatGLM-6B needs " << want;
  };
  need(c.residual == ResidualKind::deepnorm, "residual", to_string(c.residual), "deepnorm");
  need(c.norm == NormKind::layernorm, "norm", to_string(c.norm), "layernorm");
  need(c.mask == MaskKind::glm, "mask", to_string(c.mask), "glm");
  need(c.rope != RopeKind::half_interleaved, "rope", to_string(c.rope), "2d (or 1d)");
  need(c.ffn != FfnKind::swiglu, "ffn", to_string(c.ffn), "gelu (or geglu)");
  need(c.kv_groups == 0, "kv_groups", std::to_string(c.kv_groups), "0 (q, k, v interleaved per head)");
  need(c.tie_embeddings, "tie_embeddings", "false", "true (lm_head.weight is the word embedding)");
  need(c.qkv_bias && c.linear_bias, "qkv_bias/linear_bias", "false", "true");
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
