#pragma once
// What the whole-model f64 tests share: the 2-layer tiny config, and one micro-batch's loss and
// gradients on a single-rank model.
#include "gradcheck.h"
#include "model/glm_model.h"

#include <cstdint>
#include <vector>

namespace glm3d::test {

// tiny with 2 layers, a 64-token vocabulary and 32 positions.
inline ModelConfig small_glm() {
  ModelConfig c = preset_config("tiny");
  c.num_layers = 2;
  c.vocab = 64;
  c.seq_len = 32;
  return c;
}

// tiny-glm2 (ChatGLM2's architecture) as small: 2 key/value groups, [Q|K|V] rows, SwiGLU.
inline ModelConfig small_glm2() {
  ModelConfig c = preset_config("tiny-glm2");
  c.num_layers = 2;
  c.num_heads = 4;
  c.kv_groups = 2;
  c.ffn_hidden = 48;
  c.vocab = 64;
  c.seq_len = 32;
  return c;
}

// A directional derivative over all n values at x (the analytic g . d and the central
// difference of loss() along a random direction d, step h); x is left at its start + h d.
struct Directional {
  double analytic, numeric;
};
template <class Loss>
Directional directional_derivative(double* x, const double* g, int64_t n, SeededRng& rng, Loss loss,
                                   double h = 1e-6) {
  std::vector<double> d(static_cast<size_t>(n)), x0(x, x + n);
  rng.fill_normal(d.data(), n);
  double gd = 0;
  for (int64_t i = 0; i < n; ++i)
    gd += g[i] * d[size_t(i)];
  auto at = [&](double t) {
    for (int64_t i = 0; i < n; ++i)
      x[i] = x0[size_t(i)] + t * d[size_t(i)];
    return loss();
  };
  const double plus = at(h), minus = at(-h);
  return {gd, (plus - minus) / (2 * h)};
}

// The summed loss of the micro-batches (one chunk, micro-batch 0), weighted by 1 / targets.
inline double loss_of(GlmModel<double>& m, const std::vector<MicroBatch>& mbs) {
  m.set_batch(&mbs, 1.0 / double(mbs[0].target_count()));
  m.forward(0, 0, nullptr, nullptr);
  return m.loss_sum();
}

// Zeroed, then accumulated gradients of that loss.
inline void gradient_of(GlmModel<double>& m, const std::vector<MicroBatch>& mbs) {
  m.zero_grads();
  m.set_batch(&mbs, 1.0 / double(mbs[0].target_count()));
  m.forward(0, 0, nullptr, nullptr);
  m.backward(0, 0, nullptr, nullptr);
}

} // namespace glm3d::test
