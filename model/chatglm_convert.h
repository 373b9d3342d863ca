#pragma once
// The ChatGLM-6B family as Hugging Face publishes it (config.json + *.safetensors shards) and
// its mapping to glm3d: parameter names are glm3d's with a `transformer.` prefix (the model
// mirrors ChatGLM's modules), query_key_value rows are [head][q|k|v][head_dim] in both, and
// lm_head.weight is the tied word embedding.
#include "model/config.h"
#include "model/config_json.h"

#include <cstdint>
#include <map>
#include <string>

namespace glm3d {

// ModelConfig from a ChatGLM config.json (hidden_size, num_layers, num_attention_heads,
// vocab_size, inner_hidden_size, layernorm_epsilon, max_sequence_length, position_encoding_2d).
// UsageError naming the file and the field when one is missing or of the wrong type. Special
// token ids (bos, eos, mask, gmask, pad) go to `special`. GeGLU is told by the up-projection's
// shape, not the config.
ModelConfig chatglm_config(const ConfigJson& config, std::map<std::string, int64_t>& special);

// config.json text for a glm3d model (position_encoding_2d from the RoPE kind).
std::string chatglm_config_json(const ModelConfig& cfg, const std::map<std::string, int64_t>& special,
                                const std::string& torch_dtype);

// "layers.3.mlp.dense_4h_to_h.weight" -> "transformer.layers.3.mlp.dense_4h_to_h.weight".
std::string chatglm_name(const std::string& glm3d_name);
inline constexpr const char* k_chatglm_lm_head = "lm_head.weight";

} // namespace glm3d
