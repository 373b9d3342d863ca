// LayerNorm / RMSNorm kernels: one block per row forward; backward in row chunks whose
// dgamma/dbeta partials are added in chunk order (core/cuda/kernel_util.cuh).
#include "core/cuda/norm.h"

#include "core/cuda/check.h"
#include "core/cuda/device.h"
#include "core/cuda/kernel_util.cuh"

namespace glm3d::cuda {
namespace {

using detail::block_sum;
using detail::from_f;
using detail::to_f;

// x, y [N, C]; one block per row. kRms: no mean, no beta.
template <class T, bool kRms>
__global__ void norm_forward_kernel(const T* x, const T* gamma, const T* beta, T* y, float* mean, float* rstd,
                                    int64_t C, float eps) {
  __shared__ float shm[32];
  const int64_t n = blockIdx.x;
  const T* xr = x + n * C;
  T* yr = y + n * C;
  float mu = 0.0f;
  if constexpr (!kRms) {
    float s = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      s += to_f(xr[c]);
    mu = block_sum(s, shm) / float(C);
  }
  float v = 0.0f;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float d = to_f(xr[c]) - mu;
    v += d * d;
  }
  const float r = 1.0f / sqrtf(block_sum(v, shm) / float(C) + eps);
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    float o = (to_f(xr[c]) - mu) * r * to_f(gamma[c]);
    if constexpr (!kRms)
      o += to_f(beta[c]);
    yr[c] = from_f<T>(o);
  }
  if (threadIdx.x == 0) {
    if constexpr (!kRms)
      mean[n] = mu;
    rstd[n] = r;
  }
}

// Block `chunk` handles rows [chunk * rows, ...); a thread owns the same columns in every
// row, so its partial dgamma/dbeta [C] slots need no atomics. The chunk's first row writes
// the partials, later rows add.
template <class T, bool kRms>
__global__ void norm_backward_kernel(const T* dy, const T* x, const T* gamma, const float* mean,
                                     const float* rstd, T* dx, float* part_g, float* part_b, int64_t N,
                                     int64_t C, int64_t rows, bool accumulate_dx) {
  __shared__ float shm[32];
  const int64_t r0 = int64_t(blockIdx.x) * rows, r1 = min(N, r0 + rows);
  float* pg = part_g + int64_t(blockIdx.x) * C;
  float* pb = kRms ? nullptr : part_b + int64_t(blockIdx.x) * C;
  for (int64_t n = r0; n < r1; ++n) {
    const bool first = n == r0;
    const float mu = kRms ? 0.0f : mean[n], rs = rstd[n];
    const T* xr = x + n * C;
    const T* dyr = dy + n * C;
    float sg = 0.0f, sgx = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const float xhat = (to_f(xr[c]) - mu) * rs, d = to_f(dyr[c]);
      const float g = d * to_f(gamma[c]);
      sg += g;
      sgx += g * xhat;
      pg[c] = (first ? 0.0f : pg[c]) + d * xhat;
      if constexpr (!kRms)
        pb[c] = (first ? 0.0f : pb[c]) + d;
    }
    const float mg = kRms ? 0.0f : block_sum(sg, shm) / float(C);
    const float mgx = block_sum(sgx, shm) / float(C);
    T* dxr = dx + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const float xhat = (to_f(xr[c]) - mu) * rs;
      const float d = rs * (to_f(dyr[c]) * to_f(gamma[c]) - mg - xhat * mgx);
      dxr[c] = from_f<T>(accumulate_dx ? to_f(dxr[c]) + d : d);
    }
  }
}

template <class T, bool kRms>
void norm_forward(const T* x, const T* gamma, const T* beta, T* y, float* mean, float* rstd, int64_t N,
                  int64_t C, double eps, cudaStream_t stream) {
  GLM3D_CHECK(C > 0) << "norm: C must be positive, got " << C;
  if (N == 0)
    return;
  norm_forward_kernel<T, kRms>
      <<<unsigned(N), launch::row_threads(C), 0, stream>>>(x, gamma, beta, y, mean, rstd, C, float(eps));
  CUDA_CHECK_LAUNCH();
}

template <class T, bool kRms>
void norm_backward(const T* dy, const T* x, const T* gamma, const float* mean, const float* rstd, T* dx,
                   float* dgamma, float* dbeta, int64_t N, int64_t C, bool accumulate_dx,
                   DeviceAllocator& alloc, cudaStream_t stream) {
  GLM3D_CHECK(C > 0) << "norm: C must be positive, got " << C;
  if (N == 0)
    return;
  const launch::RowChunks ch = launch::row_chunks(N, current_sm_count());
  const int parts = kRms ? 1 : 2;
  DeviceBuffer partial = alloc.allocate(size_t(ch.chunks * C * parts) * sizeof(float), stream);
  float* pg = partial.as<float>();
  float* pb = kRms ? nullptr : pg + ch.chunks * C;
  norm_backward_kernel<T, kRms><<<unsigned(ch.chunks), launch::row_threads(C), 0, stream>>>(
      dy, x, gamma, mean, rstd, dx, pg, pb, N, C, ch.rows, accumulate_dx);
  CUDA_CHECK_LAUNCH();
  detail::add_chunk_partials(pg, ch.chunks, C, dgamma, stream);
  if (!kRms)
    detail::add_chunk_partials(pb, ch.chunks, C, dbeta, stream);
}

} // namespace

template <class T>
void layernorm_forward(const T* x, const T* gamma, const T* beta, T* y, float* mean, float* rstd, int64_t N,
                       int64_t C, double eps, cudaStream_t stream) {
  norm_forward<T, false>(x, gamma, beta, y, mean, rstd, N, C, eps, stream);
}

template <class T>
void layernorm_backward(const T* dy, const T* x, const T* gamma, const float* mean, const float* rstd, T* dx,
                        float* dgamma, float* dbeta, int64_t N, int64_t C, bool accumulate_dx,
                        DeviceAllocator& alloc, cudaStream_t stream) {
  norm_backward<T, false>(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, N, C, accumulate_dx, alloc, stream);
}

template <class T>
void rmsnorm_forward(const T* x, const T* gamma, T* y, float* rstd, int64_t N, int64_t C, double eps,
                     cudaStream_t stream) {
  norm_forward<T, true>(x, gamma, nullptr, y, nullptr, rstd, N, C, eps, stream);
}

template <class T>
void rmsnorm_backward(const T* dy, const T* x, const T* gamma, const float* rstd, T* dx, float* dgamma,
                      int64_t N, int64_t C, bool accumulate_dx, DeviceAllocator& alloc, cudaStream_t stream) {
  norm_backward<T, true>(dy, x, gamma, nullptr, rstd, dx, dgamma, nullptr, N, C, accumulate_dx, alloc,
                         stream);
}

#define GLM3D_NORM_INSTANTIATE(T)                                                                            \
  template void layernorm_forward<T>(const T*, const T*, const T*, T*, float*, float*, int64_t, int64_t,     \
                                     double, cudaStream_t);                                                  \
  template void layernorm_backward<T>(const T*, const T*, const T*, const float*, const float*, T*, float*,  \
                                      float*, int64_t, int64_t, bool, DeviceAllocator&, cudaStream_t);       \
  template void rmsnorm_forward<T>(const T*, const T*, T*, float*, int64_t, int64_t, double, cudaStream_t);  \
  template void rmsnorm_backward<T>(const T*, const T*, const T*, const float*, T*, float*, int64_t,         \
                                    int64_t, bool, DeviceAllocator&, cudaStream_t);
GLM3D_NORM_INSTANTIATE(float)
GLM3D_NORM_INSTANTIATE(bf16)

} // namespace glm3d::cuda
