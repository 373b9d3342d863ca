#pragma once
// Device-side helpers shared by the kernels: bf16 <-> f32 (the public API carries
// glm3d::bf16, bit-identical to __nv_bfloat16), warp and block sums, the device's SM count.
#include "core/check.h"
#include "core/cuda/launch.h"
#include "core/dtype.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>

namespace glm3d::cuda::detail {

__device__ __forceinline__ float to_f(float x) {
  return x;
}
__device__ __forceinline__ float to_f(bf16 x) {
  return __uint_as_float(uint32_t(x.bits) << 16);
}
template <class T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) {
  return x;
}
template <> __device__ __forceinline__ bf16 from_f<bf16>(float x) {
  bf16 r;
  r.bits = __bfloat16_as_ushort(__float2bfloat16_rn(x)); // round to nearest even, as bf16(float)
  return r;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
// result. `shm` holds 32 floats; the block synchronises inside.
__device__ __forceinline__ float block_sum(float v, float* shm) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads(); // shm may still be read by a previous call
  if (lane == 0)
    shm[warp] = v;
  __syncthreads();
  v = lane < nwarps ? shm[lane] : 0.0f;
  return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* shm) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0)
    shm[warp] = v;
  __syncthreads();
  v = lane < nwarps ? shm[lane] : -INFINITY;
  return warp_max(v);
}

// Sums of two values over the block in one exchange (same rules as block_sum; `shm` holds
// 32 float2).
__device__ __forceinline__ float2 block_sum2(float a, float b, float2* shm) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  a = warp_sum(a);
  b = warp_sum(b);
  __syncthreads();
  if (lane == 0)
    shm[warp] = make_float2(a, b);
  __syncthreads();
  const float2 v = lane < nwarps ? shm[lane] : make_float2(0.0f, 0.0f);
  return make_float2(warp_sum(v.x), warp_sum(v.y));
}

// 16-byte packs of T (8 bf16 or 4 f32) moved as one vector and widened to f32 registers.
template <class T> constexpr int kPack = 16 / int(sizeof(T));

template <class T> __device__ __forceinline__ void load_pack(const T* p, float (&v)[kPack<T>]) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
  if constexpr (sizeof(T) == 4) {
    for (int e = 0; e < 4; ++e)
      v[e] = __uint_as_float(w[e]);
  } else {
    for (int e = 0; e < 4; ++e) { // element 2e in the low half (little endian)
      v[2 * e] = __uint_as_float(w[e] << 16);
      v[2 * e + 1] = __uint_as_float(w[e] & 0xffff0000u);
    }
  }
}

template <class T> __device__ __forceinline__ void store_pack(T* p, const float (&v)[kPack<T>]) {
  uint32_t w[4];
  if constexpr (sizeof(T) == 4) {
    for (int e = 0; e < 4; ++e)
      w[e] = __float_as_uint(v[e]);
  } else {
    for (int e = 0; e < 4; ++e)
      w[e] = uint32_t(from_f<bf16>(v[2 * e]).bits) | (uint32_t(from_f<bf16>(v[2 * e + 1]).bits) << 16);
  }
  *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
}

// n f32 values (a multiple of 4, p 16-byte aligned) written as float4s: the packed kernels'
// rows of f32 partial sums.
template <int n> __device__ __forceinline__ void store_f32(float* p, const float (&v)[n]) {
  static_assert(n % 4 == 0, "whole float4s");
  for (int e = 0; e < n; e += 4)
    *reinterpret_cast<float4*>(p + e) = make_float4(v[e], v[e + 1], v[e + 2], v[e + 3]);
}

// True when every pointer (null ones aside) is 16-byte aligned: the packed kernels' condition.
inline bool aligned16(std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0)
      return false;
  return true;
}

// partial [chunks, C] f32 (row-chunk sums) -> out[c] += sum over chunks in a fixed order
// (core/cuda/elementwise.cu): the deterministic second pass of every column sum.
void add_chunk_partials(const float* partial, int64_t chunks, int64_t C, float* out, cudaStream_t stream);

} // namespace glm3d::cuda::detail
