// Vocab-parallel cross-entropy: three row kernels with the group reductions in between.
#include "core/cuda/cross_entropy.h"

#include "core/cuda/check.h"
#include "core/cuda/device.h"
#include "core/cuda/kernel_util.cuh"

#include <algorithm>

namespace glm3d::cuda {
namespace {

using detail::block_max;
using detail::block_sum;
using detail::from_f;
using detail::to_f;

int64_t valid_columns(int64_t Vl, int64_t v0, int64_t vocab_real) {
  return std::clamp<int64_t>(vocab_real - v0, 0, Vl);
}

// rowmax[n] = max over the valid columns of row n.
template <class T> __global__ void row_max_kernel(const T* logits, int64_t Vl, int64_t valid, float* rowmax) {
  __shared__ float shm[32];
  const T* x = logits + int64_t(blockIdx.x) * Vl;
  float m = -INFINITY;
  for (int64_t v = threadIdx.x; v < valid; v += blockDim.x)
    m = fmaxf(m, to_f(x[v]));
  m = block_max(m, shm);
  if (threadIdx.x == 0)
    rowmax[blockIdx.x] = m;
}

// sums[n] = sum exp(x - max) (probs = the unnormalised exps), sums[N + n] = target logit
// (read before any thread overwrites the row when probs aliases logits).
template <class T>
__global__ void exp_sum_kernel(const T* logits, const int32_t* targets, const uint8_t* mask, T* probs,
                               const float* rowmax, float* sums, int64_t N, int64_t Vl, int64_t v0,
                               int64_t valid) {
  __shared__ float shm[32];
  const int64_t n = blockIdx.x;
  const T* x = logits + n * Vl;
  T* p = probs + n * Vl;
  if (threadIdx.x == 0) {
    const int64_t t = int64_t(targets[n]) - v0;
    sums[N + n] = (mask[n] && t >= 0 && t < valid) ? to_f(x[t]) : 0.0f;
  }
  __syncthreads();
  const float mx = rowmax[n];
  float s = 0.0f;
  for (int64_t v = threadIdx.x; v < Vl; v += blockDim.x) {
    const float e = v < valid ? expf(to_f(x[v]) - mx) : 0.0f;
    s += e;
    p[v] = from_f<T>(e);
  }
  s = block_sum(s, shm);
  if (threadIdx.x == 0)
    sums[n] = s;
}

template <class T>
__global__ void normalise_kernel(const uint8_t* mask, T* probs, const float* rowmax, const float* sums,
                                 float* losses, int64_t N, int64_t Vl, int64_t valid) {
  const int64_t n = blockIdx.x;
  const float inv = 1.0f / sums[n];
  T* p = probs + n * Vl;
  for (int64_t v = threadIdx.x; v < valid; v += blockDim.x)
    p[v] = from_f<T>(to_f(p[v]) * inv);
  if (threadIdx.x == 0)
    losses[n] = mask[n] ? logf(sums[n]) + rowmax[n] - sums[N + n] : 0.0f;
}

template <class T>
__global__ void ce_backward_kernel(const T* probs, const int32_t* targets, const uint8_t* mask,
                                   const float* dloss, T* dlogits, int64_t N, int64_t Vl, int64_t v0,
                                   int64_t valid) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < N * Vl;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / Vl, v = i % Vl;
    float d = 0.0f;
    if (mask[n] && v < valid) {
      const float g = dloss[n];
      d = to_f(probs[i]) * g - (v == int64_t(targets[n]) - v0 ? g : 0.0f);
    }
    dlogits[i] = from_f<T>(d);
  }
}

} // namespace

template <class T>
void vocab_parallel_ce_forward(const T* logits, const int32_t* targets, const uint8_t* mask, float* losses,
                               T* probs, int64_t N, int64_t Vl, int64_t v0, int64_t vocab_real,
                               const cpu::VocabReduce<float>& reduce, DeviceAllocator& alloc,
                               cudaStream_t stream) {
  GLM3D_CHECK(vocab_real > 0 && v0 >= 0 && Vl > 0)
      << "cross-entropy: bad vocab slice v0=" << v0 << " Vl=" << Vl << " vocab_real=" << vocab_real;
  if (N == 0)
    return;
  const int64_t valid = valid_columns(Vl, v0, vocab_real);
  const int threads = launch::row_threads(Vl);
  DeviceBuffer stats = alloc.allocate(size_t(3 * N) * sizeof(float), stream);
  float* rowmax = stats.as<float>(); // [N]
  float* sums = rowmax + N;          // [sum exp (N) | target logit (N)]
  row_max_kernel<<<unsigned(N), threads, 0, stream>>>(logits, Vl, valid, rowmax);
  CUDA_CHECK_LAUNCH();
  reduce.max(rowmax, N);
  exp_sum_kernel<<<unsigned(N), threads, 0, stream>>>(logits, targets, mask, probs, rowmax, sums, N, Vl, v0,
                                                      valid);
  CUDA_CHECK_LAUNCH();
  reduce.sum(sums, 2 * N);
  normalise_kernel<<<unsigned(N), threads, 0, stream>>>(mask, probs, rowmax, sums, losses, N, Vl, valid);
  CUDA_CHECK_LAUNCH();
}

template <class T>
void vocab_parallel_ce_backward(const T* probs, const int32_t* targets, const uint8_t* mask,
                                const float* dloss, T* dlogits, int64_t N, int64_t Vl, int64_t v0,
                                int64_t vocab_real, cudaStream_t stream) {
  if (N * Vl == 0)
    return;
  const launch::Grid1D g = launch::elementwise(N * Vl, 1, current_sm_count());
  ce_backward_kernel<<<g.blocks, g.threads, 0, stream>>>(probs, targets, mask, dloss, dlogits, N, Vl, v0,
                                                         valid_columns(Vl, v0, vocab_real));
  CUDA_CHECK_LAUNCH();
}

#define GLM3D_CE_INSTANTIATE(T)                                                                              \
  template void vocab_parallel_ce_forward<T>(const T*, const int32_t*, const uint8_t*, float*, T*, int64_t,  \
                                             int64_t, int64_t, int64_t, const cpu::VocabReduce<float>&,      \
                                             DeviceAllocator&, cudaStream_t);                                \
  template void vocab_parallel_ce_backward<T>(const T*, const int32_t*, const uint8_t*, const float*, T*,    \
                                              int64_t, int64_t, int64_t, int64_t, cudaStream_t);
GLM3D_CE_INSTANTIATE(float)
GLM3D_CE_INSTANTIATE(bf16)

} // namespace glm3d::cuda
