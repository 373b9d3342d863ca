#pragma once
// LayerNorm and RMSNorm over the last dim on the GPU, with the semantics of
// core/cpu/layernorm.h. Activations x, y, dy, dx [N, C] in T (float or bf16), math in f32;
// row statistics mean, rstd [N] f32; parameter gradients in f32 and accumulated (+=).
// Column sums for dgamma/dbeta go through per-row-chunk partials added in a fixed order, so
// results are bit-reproducible run to run.
#include "core/cuda/allocator.h"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace glm3d::cuda {

// y = (x - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(var + eps)   (biased variance)
template <class T>
void layernorm_forward(const T* x, const T* gamma, const T* beta, T* y, float* mean, float* rstd, int64_t N,
                       int64_t C, double eps, cudaStream_t stream);
// dx (overwrite, or += when accumulate_dx); dgamma, dbeta [C] +=.
template <class T>
void layernorm_backward(const T* dy, const T* x, const T* gamma, const float* mean, const float* rstd, T* dx,
                        float* dgamma, float* dbeta, int64_t N, int64_t C, bool accumulate_dx,
                        DeviceAllocator& alloc, cudaStream_t stream);

// RMSNorm (ChatGLM2): y = x * rstd * gamma,  rstd = 1 / sqrt(mean(x^2) + eps).
template <class T>
void rmsnorm_forward(const T* x, const T* gamma, T* y, float* rstd, int64_t N, int64_t C, double eps,
                     cudaStream_t stream);
// dx = rstd (g - xhat mean(g xhat)), g = dy gamma, xhat = x rstd  (overwrite or +=); dgamma += dy xhat.
template <class T>
void rmsnorm_backward(const T* dy, const T* x, const T* gamma, const float* rstd, T* dx, float* dgamma,
                      int64_t N, int64_t C, bool accumulate_dx, DeviceAllocator& alloc, cudaStream_t stream);

} // namespace glm3d::cuda
