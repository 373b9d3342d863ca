#pragma once
// GeLU (tanh form), GeGLU and SwiGLU on the GPU, T = float or bf16, math in f32.
// GeLU and GeGLU as core/cpu/activation.h: a row [a | g] of width 2F gives a * gelu(g).
// SwiGLU as ChatGLM2 (`silu(x[0]) * x[1]` over the two halves): a row [a | b] gives silu(a) * b.
#include <cstdint>
#include <cuda_runtime_api.h>

namespace glm3d::cuda {

template <class T> void gelu_forward(const T* x, T* y, int64_t n, cudaStream_t stream);
// dx = dy * gelu'(x)  (overwrite)
template <class T> void gelu_backward(const T* x, const T* dy, T* dx, int64_t n, cudaStream_t stream);

// x [N, 2F], y [N, F]; backward: dx [N, 2F] (overwrite) from dy [N, F].
template <class T> void geglu_forward(const T* x, T* y, int64_t N, int64_t F, cudaStream_t stream);
template <class T>
void geglu_backward(const T* x, const T* dy, T* dx, int64_t N, int64_t F, cudaStream_t stream);
template <class T> void swiglu_forward(const T* x, T* y, int64_t N, int64_t F, cudaStream_t stream);
template <class T>
void swiglu_backward(const T* x, const T* dy, T* dx, int64_t N, int64_t F, cudaStream_t stream);

} // namespace glm3d::cuda
