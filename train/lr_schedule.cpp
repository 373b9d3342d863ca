#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace glm3d {

double LrSchedule::at(int64_t step) const {
  if (warmup_steps > 0 && step <= warmup_steps)
    return max_lr * double(step) / double(warmup_steps);
  const int64_t span = std::max<int64_t>(1, decay_steps - warmup_steps);
  const double progress = std::min(1.0, double(step - warmup_steps) / double(span));
  return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + std::cos(3.14159265358979323846 * progress));
}

} // namespace glm3d
