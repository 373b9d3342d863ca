#pragma once
// What the whole-model f64 tests share: the 2-layer tiny config, and one micro-batch's loss and
// gradients on a single-rank model.
#include "model/glm_model.h"

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
