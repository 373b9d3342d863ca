#include "core/cpu/convert.h"

#include "core/cpu/simd_clones.h"

#include <cstring>

namespace glm3d::cpu {

// Bit-level rounding in a form the compiler vectorises (the same rule as bf16(float)).
void to_bf16(const float* x, bf16* y, int64_t n) {
  const uint32_t* u = reinterpret_cast<const uint32_t*>(x);
  uint16_t* out = reinterpret_cast<uint16_t*>(y);
  parallel_simd(n, [=](int64_t i0, int64_t i1) GLM3D_INLINE {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i) {
      const uint32_t v = u[i];
      const bool nan = (v & 0x7fffffffu) > 0x7f800000u;
      const uint32_t rounded = (v + 0x7fffu + ((v >> 16) & 1u)) >> 16;
      out[i] = uint16_t(nan ? ((v >> 16) | 0x40u) : rounded);
    }
  });
}

void to_f32(const bf16* x, float* y, int64_t n) {
  const uint16_t* in = reinterpret_cast<const uint16_t*>(x);
  uint32_t* out = reinterpret_cast<uint32_t*>(y);
  parallel_simd(n, [=](int64_t i0, int64_t i1) GLM3D_INLINE {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i)
      out[i] = uint32_t(in[i]) << 16;
  });
}

} // namespace glm3d::cpu
