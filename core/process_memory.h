#pragma once
// This process's resident memory as the kernel counts it (/proc/self/status): the peak (VmHWM,
// what an out-of-memory killer or a cgroup limit compares with) and the current (VmRSS).
#include <cstdint>

namespace glm3d {

int64_t peak_rss_bytes();    // VmHWM; -1 where /proc is unavailable
int64_t current_rss_bytes(); // VmRSS; -1 where /proc is unavailable

} // namespace glm3d
