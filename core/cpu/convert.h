#pragma once
// f32 <-> bf16 conversion of buffers (round to nearest even, as bf16(float)), OpenMP-parallel.
#include "core/dtype.h"

#include <cstdint>

namespace glm3d::cpu {

void to_bf16(const float* x, bf16* y, int64_t n);
void to_f32(const bf16* x, float* y, int64_t n);

} // namespace glm3d::cpu
