#pragma once
// Learning rate: linear warm-up from 0 to max_lr over warmup_steps, then cosine
// decay to min_lr at decay_steps (held at min_lr after). Steps are 1-based.
#include <cstdint>

namespace glm3d {

struct LrSchedule {
  double max_lr = 1e-3, min_lr = 1e-4;
  int64_t warmup_steps = 0, decay_steps = 1;
  double at(int64_t step) const;
};

} // namespace glm3d
