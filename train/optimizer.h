#pragma once
// AdamW over a range [begin, end) of the rank's flat parameter buffer: the whole
// buffer normally, this data-parallel rank's shard under ZeRO-1. Weight decay is
// applied to weights only (not to biases or LayerNorm), per ParamTable.
#include "core/cpu/adamw.h"
#include "model/param_table.h"

#include <cstdint>
#include <vector>

namespace glm3d {

class AdamW {
public:
  AdamW(const ParamTable& table, const cpu::AdamWHyper& hyper, int64_t begin, int64_t end);
  // master: the f32 weights of [begin, end) (master[0] is element begin); grads: the whole flat
  // gradient buffer, of which [begin, end) is read.
  // grad_scale: the gradients are used times it (clipping; the buffer is not written).
  void step(float* master, const float* grads, double lr, int64_t step, double grad_scale = 1.0);
  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }
  std::vector<float>& m() { return m_; } // [end - begin]
  std::vector<float>& v() { return v_; }
  const std::vector<float>& m() const { return m_; }
  const std::vector<float>& v() const { return v_; }

private:
  struct Run {
    int64_t begin, end;
    bool wd;
  };
  std::vector<Run> runs_; // maximal [begin, end) pieces with the same weight-decay flag
  cpu::AdamWHyper hyper_;
  int64_t begin_, end_;
  std::vector<float> m_, v_;
};

} // namespace glm3d
