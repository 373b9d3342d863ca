#pragma once
// glm3d_gpu_check --bench: cuBLASLt GEMM TFLOP/s and the GLM-130B tp-8 slice step (bench.cpp).
#include "harness.h"

#include <string>

namespace glm3d::gpucheck {

// What the benchmark's operands hold: uniform random values (the default; a GPU's speed
// depends on the bits it multiplies), or one constant byte pattern (0x3c3c, about 0.0115), as
// the benchmark used before, for comparisons with older runs.
enum class BenchFill { random, constant };

struct BenchResult {
  std::string device;
  BenchFill fill = BenchFill::random;
  double peak_tflops = 0; // bf16 dense, from the device name (0: unknown)
  double gemm_8192 = 0, gemm_qkv = 0, gemm_dense = 0, gemm_up = 0, gemm_down = 0; // TFLOP/s
  double step_seconds = 0, step_tflops = 0, mfu = 0;
  // One layer's parts, microseconds: attention forward and backward, LayerNorm forward and backward.
  double attn_fwd_us = 0, attn_bwd_us = 0, ln_fwd_us = 0, ln_bwd_us = 0;
};

BenchResult run_bench(Ctx& c, BenchFill fill);
void print_bench(const BenchResult& r);

} // namespace glm3d::gpucheck
