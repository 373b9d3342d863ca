#pragma once
// Linear layer with a quantized weight W [out, in] (ChatGLM int8/int4 or NF4):
//   forward        y[N, out] = x[N, in] · dequant(W)^T + b[out]      (b may be null)
//   backward input dx[N, in] = dy[N, out] · dequant(W)               (overwrite, or += )
// There is no weight gradient: the base weight is frozen (ChatGLM W8A16 inference, QLoRA).
//
// The weight is never dequantized whole. Each thread dequantizes a slab of it into its part of
// a workspace and multiplies that slab with oneDNN's f32 matmul: kRowChunk output rows of W for
// the forward (a column block of y), kColChunk input columns for the backward (a column block of
// dx), so every output element is written by one thread and no reduction is needed.
#include "core/quant/qmatrix.h"

#include <cstdint>

namespace glm3d::quant {

inline constexpr int64_t kRowChunk = 64; // forward: rows of W dequantized at a time
inline constexpr int64_t kColChunk = 64; // backward: columns of W dequantized at a time

// Floats of workspace the two functions below use with `threads` OpenMP threads (0: the
// current omp_get_max_threads()): threads * max(kRowChunk * in, out * kColChunk), capped by
// the slabs the matrix actually has.
int64_t qlinear_workspace_floats(const QuantizedMatrix& W, int threads = 0);

// workspace: at least qlinear_workspace_floats(W) floats (checked).
void qlinear_forward(const QuantizedMatrix& W, const float* x, const float* b, float* y, int64_t N,
                     float* workspace, int64_t workspace_floats);
void qlinear_backward_input(const QuantizedMatrix& W, const float* dy, float* dx, int64_t N, bool accumulate,
                            float* workspace, int64_t workspace_floats);

} // namespace glm3d::quant
