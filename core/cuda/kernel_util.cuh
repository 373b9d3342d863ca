#pragma once
// Device-side helpers shared by the kernels: bf16 <-> f32 (the public API carries
// glm3d::bf16, bit-identical to __nv_bfloat16), warp and block sums, the device's SM count.
#include "core/check.h"
#include "core/cuda/launch.h"
#include "core/dtype.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

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

// partial [chunks, C] f32 (row-chunk sums) -> out[c] += sum over chunks in chunk order
// (core/cuda/elementwise.cu): the deterministic second pass of every column sum.
void add_chunk_partials(const float* partial, int64_t chunks, int64_t C, float* out, cudaStream_t stream);

} // namespace glm3d::cuda::detail
