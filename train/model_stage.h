#pragma once
// The model as the pipeline executor sees it: one StageCompute over this rank's chunks.
// Used by training (StepRunner) and by forward-only evaluation (glm3d eval), whose
// forward-only schedule never calls backward.
#include "model/glm_model.h"
#include "pipeline/stage_compute.h"

namespace glm3d {

class ModelStage final : public StageCompute {
public:
  explicit ModelStage(GlmModel<float>& m) : m_(m) {}
  int64_t activation_size(int, int microbatch) const override { return m_.activation_size(microbatch); }
  void forward(int chunk, int mb, const float* in, float* out) override { m_.forward(chunk, mb, in, out); }
  void backward(int chunk, int mb, const float* dout, float* din) override {
    m_.backward(chunk, mb, dout, din);
  }

private:
  GlmModel<float>& m_;
};

} // namespace glm3d
