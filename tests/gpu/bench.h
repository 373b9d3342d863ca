#pragma once
// glm3d_gpu_check --bench: cuBLASLt GEMM TFLOP/s and the GLM-130B tp-8 slice step (bench.cpp).
#include "harness.h"

#include <string>

namespace glm3d::gpucheck {

struct BenchResult {
  std::string device;
  double peak_tflops = 0; // bf16 dense, from the device name (0: unknown)
  double gemm_8192 = 0, gemm_qkv = 0, gemm_dense = 0, gemm_up = 0, gemm_down = 0; // TFLOP/s
  double step_seconds = 0, step_tflops = 0, mfu = 0;
};

BenchResult run_bench(Ctx& c);
void print_bench(const BenchResult& r);

} // namespace glm3d::gpucheck
