#pragma once
// StageCompute: what the pipeline executor runs for one model chunk of this rank. The model
// implements it; tests use a mock. All tensors passed between stages are f32.
#include <cstdint>

namespace glm3d {

class StageCompute {
public:
  virtual ~StageCompute() = default;
  // Elements of the activation tensor passed between stages for `microbatch` (the hidden
  // state, e.g. [b, s, h]); the same number on every stage of a microbatch.
  virtual int64_t activation_size(int chunk, int microbatch) const = 0;
  // in: activations from the previous stage (nullptr on the first stage of chunk 0; it reads
  // the batch), valid until backward(chunk, microbatch) returns. out: to the next stage
  // (nullptr on the very last stage: it computes the loss).
  virtual void forward(int chunk, int microbatch, const float* in, float* out) = 0;
  // dout: gradient from the next stage (nullptr on the last stage); din: gradient to send
  // back (nullptr on the first stage). Parameter gradients accumulate across microbatches.
  virtual void backward(int chunk, int microbatch, const float* dout, float* din) = 0;
};

} // namespace glm3d
