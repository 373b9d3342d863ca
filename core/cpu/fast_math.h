#pragma once
// Vectorisable f32 exp and tanh for element-wise kernels (GeLU). std::tanh/std::exp are
// scalar library calls that GCC does not vectorise without -ffast-math; these inline
// forms do under `#pragma omp simd`. Accuracy: exp_f32 within 2 ulp of expf on
// [-87, 88] (Cody-Waite reduction, degree-7 Taylor on |r| <= ln2/2, truncation
// r^8/8! < 1e-9 relative); tanh_f32 within 1.2e-7 absolute (both checked in
// tests/core/test_fast_math.cpp).
// The f64 kernels keep std:: functions and serve as the reference in the tests.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace glm3d::cpu {

inline float exp_f32(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // round(x / ln2) by the 1.5 * 2^23 trick: plain adds, so the loop vectorises on any x86-64
  // (floorf needs SSE4.1 and would stay a library call).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23; // 2^n, n in [-126, 127]
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}

// tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2|u|) in (0, 1]: no overflow, and the
// absolute error stays at the rounding of 1 - e.
inline float tanh_f32(float u) {
  const float e = exp_f32(-2.0f * __builtin_fabsf(u));
  return __builtin_copysignf((1.0f - e) / (1.0f + e), u);
}

} // namespace glm3d::cpu
