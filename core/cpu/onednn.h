#pragma once
// Internal to core/cpu: the oneDNN matmul behind gemm, exposed with general strides so other
// kernels (attention) can multiply views of their operands without copying them.
#include <cstddef>
#include <cstdint>

namespace glm3d::cpu::detail {

// C[b] = alpha * A[b] · B[b] (+ C[b] when accumulate) for b < batch, A[b] [M,K], B[b] [K,N],
// C[b] [M,N]. Strides in elements, ordered (batch, row, col); a transposed operand simply
// swaps its row and column strides.
struct MatmulLayout {
  int64_t batch, M, N, K;
  int64_t a[3], b[3], c[3];
};

// f32 inputs and output; the primitive for each distinct (layout, alpha, accumulate) is
// created once and cached.
void strided_matmul_f32(const MatmulLayout& layout, const float* A, const float* B, float* C, float alpha,
                        bool accumulate);

// Number of distinct matmul primitives created so far in this process.
size_t onednn_matmul_cache_size();

} // namespace glm3d::cpu::detail
