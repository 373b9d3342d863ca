#pragma once
// Rejects non-finite input before a quantizer's parallel loop (an exception may not leave an
// OpenMP region).
#include "core/check.h"

#include <cmath>
#include <cstdint>

namespace glm3d::quant {

inline void check_finite(const float* x, int64_t n, const char* what) {
  int64_t first_bad = n;
#pragma omp parallel for schedule(static) reduction(min : first_bad)
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i]) && i < first_bad)
      first_bad = i;
  GLM3D_CHECK(first_bad == n) << what << ": non-finite value " << x[first_bad] << " at flat index "
                              << first_bad;
}

} // namespace glm3d::quant
