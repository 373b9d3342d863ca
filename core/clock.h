#pragma once
// Wall-clock intervals for step timings and logs (steady clock).
#include <chrono>

namespace glm3d {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

} // namespace glm3d
