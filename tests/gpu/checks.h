#pragma once
// The kernel checks of glm3d_gpu_check: every core/cuda kernel against the f64 CPU path on
// fresh random inputs (checks_pointwise.cpp: norms, activations, RoPE, residual, sums,
// cross-entropy, AdamW; checks_matmul.cpp: cuBLASLt GEMMs and epilogues, linear layers,
// flash attention). Each appends its outputs' errors to the report.
#include "harness.h"

namespace glm3d::gpucheck {

void check_pointwise(Ctx& c, Report& r);
void check_matmul(Ctx& c, Report& r);
void check_attention(Ctx& c, Report& r);

} // namespace glm3d::gpucheck
