// GeLU / GeGLU / SwiGLU: grid-stride element-wise kernels.
#include "core/cuda/activation.h"

#include "core/cuda/check.h"
#include "core/cuda/device.h"
#include "core/cuda/kernel_util.cuh"

namespace glm3d::cuda {
namespace {

using detail::from_f;
using detail::to_f;

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCoeff = 0.044715f;

__device__ __forceinline__ float gelu(float x) {
  return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + kCoeff * x * x * x)));
}
__device__ __forceinline__ float gelu_grad(float x) {
  const float t = tanhf(kSqrt2OverPi * (x + kCoeff * x * x * x));
  const float du = kSqrt2OverPi * (1.0f + 3.0f * kCoeff * x * x);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}
__device__ __forceinline__ float sigmoid(float x) {
  return 1.0f / (1.0f + expf(-x));
}

enum class Glu { geglu, swiglu };

template <class T> __global__ void gelu_kernel(const T* x, const T* dy, T* out, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = from_f<T>(dy ? to_f(dy[i]) * gelu_grad(to_f(x[i])) : gelu(to_f(x[i])));
}

// One thread per output element (r, f) of [N, F]; the row of x is [a (F) | b (F)].
template <class T, Glu kind> __global__ void glu_forward_kernel(const T* x, T* y, int64_t N, int64_t F) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < N * F;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / F, f = i % F;
    const float a = to_f(x[r * 2 * F + f]), b = to_f(x[r * 2 * F + F + f]);
    y[i] = from_f<T>(kind == Glu::geglu ? a * gelu(b) : a * sigmoid(a) * b);
  }
}

template <class T, Glu kind>
__global__ void glu_backward_kernel(const T* x, const T* dy, T* dx, int64_t N, int64_t F) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < N * F;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / F, f = i % F, ia = r * 2 * F + f, ib = ia + F;
    const float a = to_f(x[ia]), b = to_f(x[ib]), g = to_f(dy[i]);
    if constexpr (kind == Glu::geglu) { // y = a gelu(b)
      dx[ia] = from_f<T>(g * gelu(b));
      dx[ib] = from_f<T>(g * a * gelu_grad(b));
    } else { // y = silu(a) b,  silu'(a) = s (1 + a (1 - s))
      const float s = sigmoid(a);
      dx[ia] = from_f<T>(g * b * s * (1.0f + a * (1.0f - s)));
      dx[ib] = from_f<T>(g * a * s);
    }
  }
}

launch::Grid1D grid_for(int64_t n) {
  return launch::elementwise(n, 1, current_sm_count());
}

template <class T, Glu kind> void glu_forward(const T* x, T* y, int64_t N, int64_t F, cudaStream_t stream) {
  if (N * F == 0)
    return;
  const launch::Grid1D g = grid_for(N * F);
  glu_forward_kernel<T, kind><<<g.blocks, g.threads, 0, stream>>>(x, y, N, F);
  CUDA_CHECK_LAUNCH();
}

template <class T, Glu kind>
void glu_backward(const T* x, const T* dy, T* dx, int64_t N, int64_t F, cudaStream_t stream) {
  if (N * F == 0)
    return;
  const launch::Grid1D g = grid_for(N * F);
  glu_backward_kernel<T, kind><<<g.blocks, g.threads, 0, stream>>>(x, dy, dx, N, F);
  CUDA_CHECK_LAUNCH();
}

} // namespace

template <class T> void gelu_forward(const T* x, T* y, int64_t n, cudaStream_t stream) {
  if (n == 0)
    return;
  const launch::Grid1D g = grid_for(n);
  gelu_kernel<<<g.blocks, g.threads, 0, stream>>>(x, static_cast<const T*>(nullptr), y, n);
  CUDA_CHECK_LAUNCH();
}
template <class T> void gelu_backward(const T* x, const T* dy, T* dx, int64_t n, cudaStream_t stream) {
  if (n == 0)
    return;
  const launch::Grid1D g = grid_for(n);
  gelu_kernel<<<g.blocks, g.threads, 0, stream>>>(x, dy, dx, n);
  CUDA_CHECK_LAUNCH();
}
template <class T> void geglu_forward(const T* x, T* y, int64_t N, int64_t F, cudaStream_t stream) {
  glu_forward<T, Glu::geglu>(x, y, N, F, stream);
}
template <class T>
void geglu_backward(const T* x, const T* dy, T* dx, int64_t N, int64_t F, cudaStream_t stream) {
  glu_backward<T, Glu::geglu>(x, dy, dx, N, F, stream);
}
template <class T> void swiglu_forward(const T* x, T* y, int64_t N, int64_t F, cudaStream_t stream) {
  glu_forward<T, Glu::swiglu>(x, y, N, F, stream);
}
template <class T>
void swiglu_backward(const T* x, const T* dy, T* dx, int64_t N, int64_t F, cudaStream_t stream) {
  glu_backward<T, Glu::swiglu>(x, dy, dx, N, F, stream);
}

#define GLM3D_ACT_INSTANTIATE(T)                                                                             \
  template void gelu_forward<T>(const T*, T*, int64_t, cudaStream_t);                                        \
  template void gelu_backward<T>(const T*, const T*, T*, int64_t, cudaStream_t);                             \
  template void geglu_forward<T>(const T*, T*, int64_t, int64_t, cudaStream_t);                              \
  template void geglu_backward<T>(const T*, const T*, T*, int64_t, int64_t, cudaStream_t);                   \
  template void swiglu_forward<T>(const T*, T*, int64_t, int64_t, cudaStream_t);                             \
  template void swiglu_backward<T>(const T*, const T*, T*, int64_t, int64_t, cudaStream_t);
GLM3D_ACT_INSTANTIATE(float)
GLM3D_ACT_INSTANTIATE(bf16)

} // namespace glm3d::cuda
