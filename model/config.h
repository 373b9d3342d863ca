#pragma once
// GLM model configuration: presets from `tiny` (tests) to `glm-130b`, INI loading,
// validation, parameter count and training FLOPs per token.
#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

enum class FfnKind { gelu, geglu };   // GeGLU: up-projection of width 2F, y = a * gelu(g)
enum class RopeKind { one_d, two_d }; // 2D: first half of each head by position, second by block position

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

  int64_t head_dim() const { return hidden / num_heads; }
  int64_t ffn_up_width() const { return ffn == FfnKind::geglu ? 2 * ffn_hidden : ffn_hidden; }
  double deepnorm_alpha() const; // (2N)^(1/2)
  double deepnorm_beta() const;  // (2N)^(-1/2)
};

// Preset names: tiny, small, base, chatglm-6b, glm-10b, glm-130b.
std::vector<std::string> preset_names();
// A preset by name, or an INI file (keys as in ModelConfig: num_layers, hidden, num_heads,
// ffn_hidden, vocab, seq_len, ffn = gelu|geglu, rope = 1d|2d, rope_base, ln_eps, init_std, lr;
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
// Forward FLOPs of one transformer layer per token (the whole layer, all tp ranks together).
double layer_forward_flops_per_token(const ModelConfig& c);

std::string to_string(const ModelConfig& c); // one line for logs

} // namespace glm3d
