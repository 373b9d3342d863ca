#pragma once
// ChatGLM2-6B and ChatGLM3-6B (one architecture) as Hugging Face publishes them: config.json +
// safetensors shards, names under transformer.embedding / transformer.encoder /
// transformer.output_layer (modeling_chatglm.py), and their mapping to glm3d's config and names.
// glm3d's query_key_value rows are [Q | K | V] as ChatGLM2's with multi_query_attention, and
// [head][q|k|v] (kv_groups 0) as ChatGLM2's without it, so the tensors move unchanged.
#include "model/config.h"
#include "model/config_json.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace glm3d {

// The piece count of ChatGLM2/3's released tokenizer.model: tokenization_chatglm.py appends the
// special tokens after it ([MASK] 64789, [gMASK] 64790, [sMASK], sop 64792, eop, and ChatGLM3's
// <|system|> 64794, <|user|>, <|assistant|>, <|observation|> 64797).
inline constexpr int64_t k_chatglm2_tokenizer_pieces = 64789;

// ModelConfig from a ChatGLM2/3 config.json (num_layers, padded_vocab_size, hidden_size,
// ffn_hidden_size, kv_channels, num_attention_heads, seq_length, layernorm_epsilon, rmsnorm,
// apply_residual_connection_post_layernorm, post_layer_norm, add_bias_linear, add_qkv_bias,
// multi_query_attention, multi_query_group_num, original_rope, rope_ratio, torch_dtype, ...).
// UsageError naming the field for a value glm3d cannot represent. Special tokens: eos, pad, bos
// from config.json, and the tokenizer's (mask, gmask, smask, sop, eop; with chatglm3 also system,
// user, assistant, observation) numbered from `tokenizer_pieces`, kept when inside the vocabulary.
ModelConfig chatglm2_config(const ConfigJson& config, bool chatglm3, int64_t tokenizer_pieces,
                            std::map<std::string, int64_t>& special);

// UsageError naming the field when cfg is not a ChatGLM2 (or, with chatglm3, ChatGLM3) model.
void check_chatglm2_exportable(const ModelConfig& cfg, bool chatglm3);

// config.json text (the fields of the released config.json; rope_ratio with chatglm3).
std::string chatglm2_config_json(const ModelConfig& cfg, bool chatglm3,
                                 const std::map<std::string, int64_t>& special,
                                 const std::string& torch_dtype);

// "layers.3.attention.dense.weight" -> "transformer.encoder.layers.3.self_attention.dense.weight",
// "word_embeddings.weight" -> "transformer.embedding.word_embeddings.weight", ...
std::string chatglm2_name(const std::string& glm3d_name);

// The rotary buffer: 1 / 10000^(2i / (head_dim / 2)), i < head_dim / 4. modeling_chatglm.py
// registers it with base 10000 whatever rope_ratio is (the forward pass uses 10000 * rope_ratio).
inline constexpr const char* k_chatglm2_inv_freq = "transformer.rotary_pos_emb.inv_freq";
std::vector<float> chatglm2_inv_freq(const ModelConfig& cfg);

} // namespace glm3d
