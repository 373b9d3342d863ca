#include "model/chatglm2_convert.h"

#include "core/check.h"

#include <cmath>
#include <sstream>

namespace glm3d {

namespace {

// Special tokens of ChatGLM2/3's tokenizer, in the order tokenization_chatglm.py appends them.
const char* const k_tokenizer_specials[] = {"mask",   "gmask", "smask",     "sop",        "eop",
                                            "system", "user",  "assistant", "observation"};
constexpr int k_chatglm2_specials = 5, k_chatglm3_specials = 9;

const std::pair<const char*, const char*> k_config_specials[] = {
    {"eos_token_id", "eos"}, {"pad_token_id", "pad"}, {"bos_token_id", "bos"}};

// The checks that are about the layer's wiring rather than its sizes.
void check_wiring(const ConfigJson& j) {
  const std::string& f = j.file();
  GLM3D_USAGE_CHECK(!j.boolean("apply_residual_connection_post_layernorm", false))
      << f << ": apply_residual_connection_post_layernorm is true (residual taken after the layer norm); "
      << "glm3d's ChatGLM2 layer adds the residual before it (x + f(norm(x)))";
  GLM3D_USAGE_CHECK(j.boolean("post_layer_norm", true))
      << f << ": post_layer_norm is false (no final layer norm); glm3d's model always has final_layernorm";
  const int64_t qbits = j.integer("quantization_bit", 0);
  GLM3D_USAGE_CHECK(qbits == 0) << f << ": quantization_bit is " << qbits
                                << ": glm3d imports float weights only (not the int8/int4 checkpoints)";
  GLM3D_USAGE_CHECK(!j.has("pre_seq_len"))
      << f << ": pre_seq_len is set (a P-tuning v2 prefix-encoder checkpoint); import the base model";
  const std::string dtype = j.string("torch_dtype", "float16");
  GLM3D_USAGE_CHECK(dtype == "float16" || dtype == "bfloat16" || dtype == "float32")
      << f << ": field 'torch_dtype' must be float16, bfloat16 or float32, got '" << dtype << "'";
  j.boolean("original_rope", true); // type-checked only: modeling_chatglm.py stores it, never reads it
}

} // namespace

ModelConfig chatglm2_config(const ConfigJson& j, bool chatglm3, int64_t tokenizer_pieces,
                            std::map<std::string, int64_t>& special) {
  const std::string& f = j.file();
  ModelConfig c = preset_config(chatglm3 ? "chatglm3-6b" : "chatglm2-6b");
  c.name = chatglm3 ? "chatglm3-import" : "chatglm2-import";
  c.num_layers = j.integer("num_layers");
  c.vocab = j.integer("padded_vocab_size");
  c.hidden = j.integer("hidden_size");
  c.ffn_hidden = j.integer("ffn_hidden_size");
  c.num_heads = j.integer("num_attention_heads");
  c.seq_len = j.integer("seq_length", 2048); // configuration_chatglm.py's default
  c.ln_eps = j.number("layernorm_epsilon", 1e-5);
  check_wiring(j);
  c.norm = j.boolean("rmsnorm", true) ? NormKind::rmsnorm : NormKind::layernorm;
  c.linear_bias = j.boolean("add_bias_linear", false);
  // modeling_chatglm.py: query_key_value has a bias when add_bias_linear or add_qkv_bias.
  c.qkv_bias = c.linear_bias || j.boolean("add_qkv_bias", false);
  GLM3D_USAGE_CHECK(c.num_heads > 0) << f << ": num_attention_heads must be positive, got " << c.num_heads;
  const int64_t kv_channels = j.integer("kv_channels", c.hidden / c.num_heads);
  GLM3D_USAGE_CHECK(kv_channels * c.num_heads == c.hidden)
      << f << ": kv_channels " << kv_channels << " x num_attention_heads " << c.num_heads << " = "
      << kv_channels * c.num_heads << ", not hidden_size " << c.hidden
      << " (glm3d's attention is hidden_size wide)";
  const int64_t groups = j.integer("multi_query_group_num", 1);
  if (j.boolean("multi_query_attention", false)) {
    GLM3D_USAGE_CHECK(groups > 0 && c.num_heads % groups == 0)
        << f << ": multi_query_group_num " << groups << " must divide num_attention_heads " << c.num_heads;
    c.kv_groups = groups;
  } else {
    c.kv_groups = 0; // query_key_value rows [head][q|k|v], as modeling_chatglm.py splits them
  }
  const double ratio = j.number("rope_ratio", 1.0);
  GLM3D_USAGE_CHECK(ratio > 0) << f << ": field 'rope_ratio' must be positive, got " << ratio;
  c.rope_base = 10000.0 * ratio; // RotaryEmbedding.forward_impl: base = 10000 * rope_ratio
  for (const auto& [key, name] : k_config_specials)
    if (const auto v = j.maybe_integer(key))
      special[name] = *v;
  const int n = chatglm3 ? k_chatglm3_specials : k_chatglm2_specials;
  if (tokenizer_pieces + n <= c.vocab)
    for (int i = 0; i < n; ++i)
      special[k_tokenizer_specials[i]] = tokenizer_pieces + i;
  validate(c);
  return c;
}

void check_chatglm2_exportable(const ModelConfig& c, bool chatglm3) {
  const char* family = chatglm3 ? "ChatGLM3-6B" : "ChatGLM2-6B";
  auto need = [&](bool ok, const char* field, const std::string& have, const std::string& want) {
    GLM3D_USAGE_CHECK(ok) << "model '" << c.name << "' cannot be written as " << family << ": " << field
                          << " is " << have << ", " << family << " needs " << want;
  };
  need(c.residual == ResidualKind::prenorm, "residual", to_string(c.residual), "prenorm");
  need(c.mask == MaskKind::causal, "mask", to_string(c.mask), "causal");
  need(c.rope == RopeKind::half_interleaved, "rope", to_string(c.rope), "half-interleaved");
  need(c.ffn == FfnKind::swiglu, "ffn", to_string(c.ffn), "swiglu");
  need(!c.tie_embeddings, "tie_embeddings", "true", "false (an output_layer of its own)");
  need(c.qkv_bias || !c.linear_bias, "qkv_bias", "false with linear_bias true",
       "a query_key_value bias whenever the other linear layers have one (add_bias_linear)");
  std::ostringstream base;
  base << c.rope_base;
  need(chatglm3 || c.rope_base == 10000.0, "rope_base", base.str(),
       "10000 (its modeling_chatglm.py has no rope_ratio; --to chatglm3-6b writes one)");
}

std::string chatglm2_config_json(const ModelConfig& c, bool chatglm3,
                                 const std::map<std::string, int64_t>& special,
                                 const std::string& torch_dtype) {
  check_chatglm2_exportable(c, chatglm3);
  nlohmann::ordered_json j;
  j["_name_or_path"] = chatglm3 ? "THUDM/chatglm3-6b" : "THUDM/chatglm2-6b";
  j["model_type"] = "chatglm";
  j["architectures"] = {"ChatGLMModel"};
  j["auto_map"] = {{"AutoConfig", "configuration_chatglm.ChatGLMConfig"},
                   {"AutoModel", "modeling_chatglm.ChatGLMForConditionalGeneration"},
                   {"AutoModelForCausalLM", "modeling_chatglm.ChatGLMForConditionalGeneration"},
                   {"AutoModelForSeq2SeqLM", "modeling_chatglm.ChatGLMForConditionalGeneration"}};
  j["add_bias_linear"] = c.linear_bias;
  j["add_qkv_bias"] = c.qkv_bias;
  j["apply_query_key_layer_scaling"] = true;
  j["apply_residual_connection_post_layernorm"] = false;
  j["attention_dropout"] = 0.0;
  j["attention_softmax_in_fp32"] = true;
  j["bias_dropout_fusion"] = true;
  j["ffn_hidden_size"] = c.ffn_hidden;
  j["fp32_residual_connection"] = false;
  j["hidden_dropout"] = 0.0;
  j["hidden_size"] = c.hidden;
  j["kv_channels"] = c.head_dim();
  j["layernorm_epsilon"] = c.ln_eps;
  j["multi_query_attention"] = c.kv_groups > 0;
  j["multi_query_group_num"] = c.kv_groups > 0 ? c.kv_groups : 1;
  j["num_attention_heads"] = c.num_heads;
  j["num_layers"] = c.num_layers;
  j["original_rope"] = true;
  j["padded_vocab_size"] = c.vocab;
  j["post_layer_norm"] = true;
  j["rmsnorm"] = c.norm == NormKind::rmsnorm;
  j["seq_length"] = c.seq_len;
  j["use_cache"] = true;
  j["torch_dtype"] = torch_dtype;
  j["tie_word_embeddings"] = false;
  if (chatglm3 && c.rope_base != 10000.0)
    j["rope_ratio"] = c.rope_base / 10000.0;
  for (const auto& [key, name] : k_config_specials)
    if (const auto it = special.find(name); it != special.end())
      j[key] = it->second;
  return j.dump(2) + "\n";
}

std::string chatglm2_name(const std::string& n) {
  auto starts = [&](const char* p) { return n.rfind(p, 0) == 0; };
  if (starts("layers.")) {
    const size_t dot = n.find('.', 7); // after the layer number
    std::string tail = n.substr(dot + 1);
    if (tail.rfind("attention.", 0) == 0)
      tail = "self_" + tail;
    return "transformer.encoder." + n.substr(0, dot + 1) + tail;
  }
  if (starts("final_layernorm."))
    return "transformer.encoder." + n;
  if (starts("word_embeddings."))
    return "transformer.embedding." + n;
  GLM3D_CHECK(n == "output_layer.weight") << "no ChatGLM2 name for '" << n << "'";
  return "transformer." + n;
}

std::vector<float> chatglm2_inv_freq(const ModelConfig& c) {
  const int64_t dim = c.head_dim() / 2; // RotaryEmbedding(rotary_dim // 2)
  std::vector<float> v(size_t(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i)
    v[size_t(i)] = float(1.0 / std::pow(10000.0, double(2 * i) / double(dim)));
  return v;
}

} // namespace glm3d
