#pragma once
// GLM model configuration: presets from `tiny` (tests) to `glm-130b`, INI loading,
// validation, parameter count and training FLOPs per token.
#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

// The architecture choices of the one GLM model (GLM-130B / ChatGLM-6B, or ChatGLM2/3):
//   ffn       gelu; geglu: up-projection [a | g] of width 2F, y = a * gelu(g) (GLM-130B);
//             swiglu: [first | second], y = silu(first) * second (ChatGLM2/3)
//   rope      1d / 2d (ChatGLM-6B: first half of each head by position, second by block
//             position), rotate_half pairs (i, i + d/2); half_interleaved (ChatGLM2/3): the first
//             half of each head rotated as pairs (2i, 2i+1), theta_i = base^(-2i/(hd/2))
//   norm      layernorm (weight and bias) or rmsnorm (weight)
//   residual  deepnorm: x1 = LN(x) * alpha + attn (GLM-130B, post-LN with DeepNorm's alpha);
//             prenorm: x1 = x + attn(norm(x)) (ChatGLM2/3)
//   mask      glm: Part A bidirectional, Part B causal; causal
//   kv_groups 0: multi-head attention, q, k, v interleaved per head ([heads, 3, hd] rows, ChatGLM-6B);
//             G: grouped-query attention with G key/value heads, rows [Q (heads hd) | K (G hd) |
//             V (G hd)] (ChatGLM2/3), query head h using group h / (heads / G)
enum class FfnKind { gelu, geglu, swiglu };
enum class RopeKind { one_d, two_d, half_interleaved };
enum class NormKind { layernorm, rmsnorm };
enum class ResidualKind { deepnorm, prenorm };
enum class MaskKind { glm, causal };

struct ModelConfig {
  std::string name = "custom";
  int64_t num_layers = 0;
  int64_t hidden = 0;
  int64_t num_heads = 0;
  int64_t ffn_hidden = 0; // F: width of the activation (GeGLU up-projection is 2F wide)
  int64_t vocab = 0;      // real vocabulary; padded per layout (padded_vocab) without changing the loss
  int64_t seq_len = 0;
  FfnKind ffn = FfnKind::gelu;
  RopeKind rope = RopeKind::one_d;
  double rope_base = 10000.0;
  double ln_eps = 1e-5;
  double init_std = 0.02; // embedding init; other weights use DeepNorm's Xavier-normal init
  double lr = 1e-4;       // recommended peak learning rate (glm3d train --lr default)
  NormKind norm = NormKind::layernorm;
  ResidualKind residual = ResidualKind::deepnorm;
  MaskKind mask = MaskKind::glm;
  int64_t kv_groups = 0;      // 0: multi-head (interleaved q, k, v); else grouped-query
  bool tie_embeddings = true; // the LM head is the word embedding (else `output_layer.weight`)
  bool qkv_bias = true;       // bias of query_key_value
  bool linear_bias = true;    // biases of dense, dense_h_to_4h, dense_4h_to_h

  int64_t head_dim() const { return hidden / num_heads; }
  bool gated() const { return ffn != FfnKind::gelu; }
  int64_t ffn_up_width() const { return gated() ? 2 * ffn_hidden : ffn_hidden; }
  int64_t kv_heads() const { return kv_groups > 0 ? kv_groups : num_heads; }
  bool packed_qkv() const { return kv_groups > 0; }
  int64_t qkv_width() const { return (num_heads + 2 * kv_heads()) * head_dim(); } // rows of query_key_value
  double deepnorm_alpha() const;                                                  // (2N)^(1/2)
  double deepnorm_beta() const;                                                   // (2N)^(-1/2)
};

// Preset names: tiny, small, base, chatglm-6b, glm-10b, glm-130b, chatglm2-6b, chatglm3-6b, and
// tiny-glm2 (tests: ChatGLM2's architecture at tiny's size).
std::vector<std::string> preset_names();
// A preset by name, or an INI file (keys as in ModelConfig: num_layers, hidden, num_heads,
// ffn_hidden, vocab, seq_len, ffn = gelu|geglu|swiglu, rope = 1d|2d|half-interleaved, rope_base,
// ln_eps, init_std, lr, norm = layernorm|rmsnorm, residual = deepnorm|prenorm, mask = glm|causal,
// kv_groups, tie_embeddings, qkv_bias, linear_bias;
// an optional `base = PRESET` key starts from a preset). Throws UsageError on unknown
// names, unknown keys or bad values.
ModelConfig load_model_config(const std::string& name_or_file);
ModelConfig preset_config(const std::string& name);
// Throws UsageError naming the field when sizes are not positive, a real is not finite, heads do
// not divide hidden, or the model has more than k_max_parameters (so that parameter_count and
// every tensor size fit int64: configs come from files).
void validate(const ModelConfig& c);
inline constexpr double k_max_parameters = 4503599627370496.0; // 2^52, 35000 x GLM-130B

// Parameters of the model with the real vocab (tied LM head counted once).
int64_t parameter_count(const ModelConfig& c);
// Training FLOPs per token (forward + backward = 3x forward): every matmul
// (GeGLU's up-projection counted as two matrices, so three in the FFN), the
// attention quadratic term 4*S*H per layer forward (scores + weighted sum, full S:
// Part A is bidirectional), and the LM head.
double training_flops_per_token(const ModelConfig& c);
// The same with the weights frozen (fine-tuning with adapters): backward computes the input
// gradients of every linear, and the attention's both operands, but no weight gradients. The
// adapters' own products (2 r (in + out) per LoRA target) are left out.
double frozen_training_flops_per_token(const ModelConfig& c);
// Forward FLOPs of one transformer layer per token (the whole layer, all tp ranks together).
double layer_forward_flops_per_token(const ModelConfig& c);

std::string to_string(const ModelConfig& c); // one line for logs

// The architecture keys as INI/checkpoint words ("swiglu", "half-interleaved", ...), and back
// (UsageError naming `what` for an unknown word).
std::string to_string(FfnKind k);
std::string to_string(RopeKind k);
std::string to_string(NormKind k);
std::string to_string(ResidualKind k);
std::string to_string(MaskKind k);
FfnKind parse_ffn(const std::string& s, const std::string& what);
RopeKind parse_rope(const std::string& s, const std::string& what);
NormKind parse_norm(const std::string& s, const std::string& what);
ResidualKind parse_residual(const std::string& s, const std::string& what);
MaskKind parse_mask(const std::string& s, const std::string& what);

} // namespace glm3d
