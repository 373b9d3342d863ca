#pragma once
// Linear layer with a quantized weight W [out, in] (ChatGLM int8/int4 or NF4):
//   forward        y[N, out] = x[N, in] · dequant(W)^T + b[out]      (b may be null)
//   backward input dx[N, in] = dy[N, out] · dequant(W)               (overwrite, or += )
// There is no weight gradient: the base weight is frozen (ChatGLM W8A16 inference, QLoRA).
//
// The weight is never dequantized whole. Each thread dequantizes a slab of it into its part of
// a workspace and multiplies that slab with oneDNN's f32 matmul: forward_slab_rows(N) output rows
// of W for the forward (a column block of y), kColChunk input columns for the backward (a column
// block of dx), so every output element is written by one thread and no reduction is needed.
#include "core/quant/qmatrix.h"

#include <cstdint>

namespace glm3d::quant {

// Forward: rows of W dequantized at a time for N tokens. Few tokens (decode) want a slab that
// stays in cache; many (prefill) want fewer, larger matmuls (measured: bench_quant.cpp).
inline int64_t forward_slab_rows(int64_t N) {
  return N < 16 ? 64 : 256;
}
inline constexpr int64_t kColChunk = 64; // backward: columns of W dequantized at a time

// Floats of workspace the two functions below use for N tokens with `threads` OpenMP threads
// (0: the current omp_get_max_threads()): threads * max(rows * in, out * kColChunk), rows =
// forward_slab_rows(N), each capped by the matrix's own size.
int64_t qlinear_workspace_floats(const QuantizedMatrix& W, int64_t N, int threads = 0);

// workspace: at least qlinear_workspace_floats(W, N) floats (checked).
void qlinear_forward(const QuantizedMatrix& W, const float* x, const float* b, float* y, int64_t N,
                     float* workspace, int64_t workspace_floats);
void qlinear_backward_input(const QuantizedMatrix& W, const float* dy, float* dx, int64_t N, bool accumulate,
                            float* workspace, int64_t workspace_floats);

} // namespace glm3d::quant
