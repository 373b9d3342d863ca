// LayerNorm / RMSNorm kernels: one block per row forward; backward in row chunks whose
// dgamma/dbeta partials are added in a fixed order (core/cuda/kernel_util.cuh). Rows that fit
// in registers (the usual hidden sizes) run the packed kernels; others the generic ones.
#include "core/cuda/norm.h"

#include "core/cuda/check.h"
#include "core/cuda/device.h"
#include "core/cuda/kernel_util.cuh"

#include <type_traits>

namespace glm3d::cuda {
namespace {

using detail::block_sum;
using detail::block_sum2;
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

// The packed kernels: a row of C = packs * kPack<T> elements held in registers, thread t
// owning packs t, t + blockDim.x, ... (kPer of them; those past the row are zero and unused).
// One read of x per row in forward (the generic kernel reads it three times) and, in backward,
// dgamma/dbeta partials kept in registers over the chunk's rows instead of a read-modify-write
// of [C] f32 partials per row.
template <class T, bool kRms, int kPer>
__global__ void __launch_bounds__(launch::kRowPackThreads)
    norm_forward_packed(const T* x, const T* gamma, const T* beta, T* y, float* mean, float* rstd, int64_t C,
                        float eps) {
  constexpr int P = detail::kPack<T>;
  __shared__ float shm[32];
  const int64_t n = blockIdx.x, packs = C / P;
  const T* xr = x + n * C;
  float v[kPer][P];
  float s = 0.0f;
  for (int k = 0; k < kPer; ++k) {
    const int64_t q = threadIdx.x + int64_t(k) * blockDim.x;
    if (q < packs) {
      detail::load_pack(xr + q * P, v[k]);
      for (int e = 0; e < P; ++e)
        s += v[k][e];
    }
  }
  const float mu = kRms ? 0.0f : block_sum(s, shm) / float(C);
  float ss = 0.0f;
  for (int k = 0; k < kPer; ++k)
    if (threadIdx.x + int64_t(k) * blockDim.x < packs)
      for (int e = 0; e < P; ++e)
        ss += (v[k][e] - mu) * (v[k][e] - mu);
  const float r = 1.0f / sqrtf(block_sum(ss, shm) / float(C) + eps);
  for (int k = 0; k < kPer; ++k) {
    const int64_t q = threadIdx.x + int64_t(k) * blockDim.x;
    if (q >= packs)
      continue;
    float g[P], b[P];
    detail::load_pack(gamma + q * P, g);
    if constexpr (!kRms)
      detail::load_pack(beta + q * P, b);
    for (int e = 0; e < P; ++e)
      v[k][e] = (v[k][e] - mu) * r * g[e] + (kRms ? 0.0f : b[e]);
    detail::store_pack(y + n * C + q * P, v[k]);
  }
  if (threadIdx.x == 0) {
    if constexpr (!kRms)
      mean[n] = mu;
    rstd[n] = r;
  }
}

template <class T, bool kRms, int kPer>
__global__ void __launch_bounds__(launch::kRowPackThreads)
    norm_backward_packed(const T* dy, const T* x, const T* gamma, const float* mean, const float* rstd, T* dx,
                         float* part_g, float* part_b, int64_t N, int64_t C, int64_t rows,
                         bool accumulate_dx) {
  constexpr int P = detail::kPack<T>;
  __shared__ float2 shm[32];
  const int64_t r0 = int64_t(blockIdx.x) * rows, r1 = min(N, r0 + rows), packs = C / P;
  float pg[kPer][P] = {}, pb[kPer][P] = {};
  for (int64_t n = r0; n < r1; ++n) {
    const float mu = kRms ? 0.0f : mean[n], rs = rstd[n];
    float sg = 0.0f, sgx = 0.0f;
    for (int k = 0; k < kPer; ++k) {
      const int64_t q = threadIdx.x + int64_t(k) * blockDim.x;
      if (q >= packs)
        continue;
      float xv[P], d[P], g[P];
      detail::load_pack(x + n * C + q * P, xv);
      detail::load_pack(dy + n * C + q * P, d);
      detail::load_pack(gamma + q * P, g);
      for (int e = 0; e < P; ++e) {
        const float xhat = (xv[e] - mu) * rs, gd = d[e] * g[e];
        sg += gd;
        sgx += gd * xhat;
        pg[k][e] += d[e] * xhat;
        pb[k][e] += d[e];
      }
    }
    const float2 sums = block_sum2(sg, sgx, shm);
    const float mg = kRms ? 0.0f : sums.x / float(C), mgx = sums.y / float(C);
    T* dxr = dx + n * C;
    for (int k = 0; k < kPer; ++k) { // x, dy and gamma again: the row is in L1 by now
      const int64_t q = threadIdx.x + int64_t(k) * blockDim.x;
      if (q >= packs)
        continue;
      float xv[P], d[P], g[P], o[P];
      detail::load_pack(x + n * C + q * P, xv);
      detail::load_pack(dy + n * C + q * P, d);
      detail::load_pack(gamma + q * P, g);
      if (accumulate_dx)
        detail::load_pack(dxr + q * P, o);
      for (int e = 0; e < P; ++e) {
        const float xhat = (xv[e] - mu) * rs;
        const float v = rs * (d[e] * g[e] - mg - xhat * mgx);
        o[e] = accumulate_dx ? o[e] + v : v;
      }
      detail::store_pack(dxr + q * P, o);
    }
  }
  for (int k = 0; k < kPer; ++k) {
    const int64_t q = threadIdx.x + int64_t(k) * blockDim.x;
    if (q >= packs)
      continue;
    const int64_t at = int64_t(blockIdx.x) * C + q * P; // C whole packs: 16-byte aligned
    detail::store_f32(part_g + at, pg[k]);
    if constexpr (!kRms)
      detail::store_f32(part_b + at, pb[k]);
  }
}

// Registers a thread gives to a row in the packed kernels (values of x, or of each partial).
constexpr int kMaxValues = 32;

// Calls launch(std::integral_constant<int, per>{}) for the packs per thread row_packs chose
// (1, 2, 4, or 8 where 8 packs of T stay within kMaxValues); false when there is no such kernel.
template <int P, class Launch> bool dispatch_per(int per, const Launch& launch) {
  switch (per) {
  case 1:
    launch(std::integral_constant<int, 1>{});
    return true;
  case 2:
    launch(std::integral_constant<int, 2>{});
    return true;
  case 4:
    launch(std::integral_constant<int, 4>{});
    return true;
  case 8:
    if constexpr (kMaxValues / P >= 8) {
      launch(std::integral_constant<int, 8>{});
      return true;
    }
    return false;
  default:
    return false;
  }
}

// The packed kernels' launches: true when the row fits (C a whole number of packs, aligned
// pointers, at most kMaxValues values a thread); false: the caller runs the generic kernel.
template <class T, bool kRms>
bool norm_forward_fast(const T* x, const T* gamma, const T* beta, T* y, float* mean, float* rstd, int64_t N,
                       int64_t C, float eps, cudaStream_t stream) {
  constexpr int P = detail::kPack<T>;
  if (C % P != 0 || !detail::aligned16({x, gamma, beta, y}))
    return false;
  const launch::RowPacks rp = launch::row_packs(C / P, kMaxValues / P);
  const dim3 grid = dim3(unsigned(N)), block = dim3(unsigned(rp.threads));
  const bool ran = dispatch_per<P>(rp.per, [&](auto per) {
    norm_forward_packed<T, kRms, decltype(per)::value>
        <<<grid, block, 0, stream>>>(x, gamma, beta, y, mean, rstd, C, eps);
  });
  if (ran)
    CUDA_CHECK_LAUNCH();
  return ran;
}

template <class T, bool kRms>
bool norm_backward_fast(const T* dy, const T* x, const T* gamma, const float* mean, const float* rstd, T* dx,
                        float* pg, float* pb, int64_t N, int64_t C, const launch::RowChunks& ch,
                        bool accumulate_dx, cudaStream_t stream) {
  constexpr int P = detail::kPack<T>;
  if (C % P != 0 || !detail::aligned16({dy, x, gamma, dx}))
    return false;
  const launch::RowPacks rp = launch::row_packs(C / P, kMaxValues / P);
  const dim3 grid = dim3(unsigned(ch.chunks)), block = dim3(unsigned(rp.threads));
  const bool ran = dispatch_per<P>(rp.per, [&](auto per) {
    norm_backward_packed<T, kRms, decltype(per)::value>
        <<<grid, block, 0, stream>>>(dy, x, gamma, mean, rstd, dx, pg, pb, N, C, ch.rows, accumulate_dx);
  });
  if (ran)
    CUDA_CHECK_LAUNCH();
  return ran;
}

template <class T, bool kRms>
void norm_forward(const T* x, const T* gamma, const T* beta, T* y, float* mean, float* rstd, int64_t N,
                  int64_t C, double eps, cudaStream_t stream) {
  GLM3D_CHECK(C > 0) << "norm: C must be positive, got " << C;
  if (N == 0 || norm_forward_fast<T, kRms>(x, gamma, beta, y, mean, rstd, N, C, float(eps), stream))
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
  if (!norm_backward_fast<T, kRms>(dy, x, gamma, mean, rstd, dx, pg, pb, N, C, ch, accumulate_dx, stream)) {
    norm_backward_kernel<T, kRms><<<unsigned(ch.chunks), launch::row_threads(C), 0, stream>>>(
        dy, x, gamma, mean, rstd, dx, pg, pb, N, C, ch.rows, accumulate_dx);
    CUDA_CHECK_LAUNCH();
  }
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
