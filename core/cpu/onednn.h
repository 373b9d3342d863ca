#pragma once
// Internal to core/cpu: the oneDNN matmul behind gemm, exposed with general strides so other
// kernels (attention) can multiply views of their operands without copying them.
#include "core/dtype.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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

// bf16 inputs, f32 accumulation and output; otherwise as strided_matmul_f32.
void strided_matmul_bf16(const MatmulLayout& layout, const bf16* A, const bf16* B, float* C, float alpha,
                         bool accumulate);

// A bf16 product on a CPU where oneDNN has no bf16 matmul (oneDNN 2.6 below AVX-512): the
// operands are widened to f32 in blocks of at most block_elems elements each ([bb, mb, K] of A,
// [bb, K, nb] of B; K whole, so each output element is one f32 sum over K) into two per-thread
// buffers, and each block pair is one cached f32 primitive. Exact products (a bf16 x bf16 product
// fits in f32); the sums are oneDNN's f32 ones. strided_matmul_bf16 uses it with
// k_widen_block_elems there; tests call it directly on any CPU.
inline constexpr int64_t k_widen_block_elems = int64_t(1) << 20; // 4 MB of f32 per operand
void widened_bf16_matmul(const MatmulLayout& layout, const bf16* A, const bf16* B, float* C, float alpha,
                         bool accumulate, int64_t block_elems);

// Whether oneDNN multiplies bf16 in hardware here: the implementation it picks for a small bf16
// matmul names AMX or AVX512_BF16 (vdpbf16ps), not an emulation or widening to f32. Decided
// once per process, after ONEDNN_MAX_CPU_ISA.
bool onednn_bf16_matmul_in_hardware();

// oneDNN's implementation name (impl_info_str) of the primitive gemm / gemm_bf16 runs for a
// row-major [M,K] x op(B) -> [M,N] product (op(B) = B^T when trans_b); "bf16-widened:" in front
// when this CPU has no bf16 matmul and bf16 operands are widened to f32.
std::string onednn_gemm_impl(bool trans_b, int64_t M, int64_t N, int64_t K, bool bf16);

// The distinct oneDNN implementation names (impl_info_str) of the matmul primitives created so far.
std::vector<std::string> onednn_matmul_impl_names();

// Number of distinct matmul primitives created so far in this process.
size_t onednn_matmul_cache_size();

} // namespace glm3d::cpu::detail
