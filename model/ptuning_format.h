#pragma once
// P-tuning v2 prefix checkpoints as ChatGLM-6B / ChatGLM2-6B's PrefixEncoder names them
// (modeling_chatglm.py; ptuning/main.py loads every "transformer.prefix_encoder.*" key):
//
//   transformer.prefix_encoder.embedding.weight   [P, kv_size]          without projection
//   with prefix_projection:
//     transformer.prefix_encoder.embedding.weight [P, E]                E = hidden (ChatGLM-6B),
//     transformer.prefix_encoder.trans.0.weight   [hidden, E]               kv_size (ChatGLM2/3)
//     transformer.prefix_encoder.trans.0.bias     [hidden]
//     transformer.prefix_encoder.trans.2.weight   [kv_size, hidden]     (trans.1 is the Tanh)
//     transformer.prefix_encoder.trans.2.bias     [kv_size]
//   kv_size = 2 * num_layers * kv_width; kv_width = hidden (ChatGLM-6B), kv_channels *
//   multi_query_group_num (ChatGLM2/3).
//
// The encoder's output row p (one prefix position) is viewed as [2 * num_layers, heads, head_dim]
// and split in pairs: layer l's key is slot 2l, its value slot 2l + 1 (get_prompt's
// view/permute/split(2)), i.e. column (2l + kv) * kv_width + j (PrefixEncoderSpec::column).
//
// On disk (glm3d's form of a P-tuning checkpoint; ChatGLM's trainer saves the same keys with
// save_pretrained): DIR/model.safetensors with those tensors and DIR/config.json holding
// pre_seq_len, prefix_projection, num_layers, hidden_size, kv_width and the family.
#include "model/adapters.h"
#include "model/host_tensors.h"
#include "model/peft_format.h" // ChatGlmFamily

#include <string>

namespace glm3d {

struct PrefixEncoderSpec {
  ChatGlmFamily family = ChatGlmFamily::chatglm6b;
  int64_t pre_seq_len = 0;
  bool prefix_projection = false;
  int64_t num_layers = 0, hidden_size = 0, kv_width = 0;
  int64_t kv_size() const { return 2 * num_layers * kv_width; }
  // Column of the encoder output that holds element j of layer l's key (kv 0) or value (kv 1).
  int64_t column(int64_t layer, int kv, int64_t j) const { return (2 * layer + kv) * kv_width + j; }
  bool operator==(const PrefixEncoderSpec&) const = default;
};

inline constexpr const char* k_prefix_embedding = "transformer.prefix_encoder.embedding.weight";
inline constexpr const char* k_prefix_trans0_weight = "transformer.prefix_encoder.trans.0.weight";
inline constexpr const char* k_prefix_trans0_bias = "transformer.prefix_encoder.trans.0.bias";
inline constexpr const char* k_prefix_trans2_weight = "transformer.prefix_encoder.trans.2.weight";
inline constexpr const char* k_prefix_trans2_bias = "transformer.prefix_encoder.trans.2.bias";

// The prefix encoder of a fine-tuning run on a model (family from the attention layout).
PrefixEncoderSpec prefix_encoder_spec(const ModelConfig& cfg, const AdapterSpec& a);

// The tensors of a prefix encoder and their shapes. UsageError for a spec with a non-positive size.
ShapeMap prefix_encoder_shapes(const PrefixEncoderSpec& spec);

// Writes DIR/model.safetensors and DIR/config.json (DIR created); tensors must be exactly
// prefix_encoder_shapes(spec) (glm3d::Error otherwise).
void write_ptuning_checkpoint(const std::string& dir, const PrefixEncoderSpec& spec, const TensorMap& tensors,
                              StDtype dtype = StDtype::f32);

// Reads a checkpoint for a model whose prefix encoder is `expected`: config.json (when present)
// must agree on pre_seq_len and prefix_projection, and the file must hold exactly the tensors of
// the spec with their shapes. UsageError naming the file (and key) otherwise; a directory with
// only pytorch_model.bin (a torch pickle) is refused with what to do.
TensorMap read_ptuning_checkpoint(const std::string& dir, const PrefixEncoderSpec& expected);

} // namespace glm3d
