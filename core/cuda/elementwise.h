#pragma once
// Element-wise helpers on the GPU (T = float or bf16, math in f32), with the semantics of
// core/cpu/elementwise.h where a CPU twin exists.
#include "core/cuda/allocator.h"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace glm3d::cuda {

// The DeepNorm residual, one pass over [N, C]:
//   out[n, c] = a[n, c] * alpha + b[n, c] + bias[c]      (bias may be null; out may alias a or b)
template <class T>
void scale_add(const T* a, double alpha, const T* b, const T* bias, T* out, int64_t N, int64_t C,
               cudaStream_t stream);

// out[c] += sum_n x[n, c] over x [N, C] (bias gradients), deterministic (row-chunk partials).
template <class T>
void column_sum_accumulate(const T* x, int64_t N, int64_t C, float* out, DeviceAllocator& alloc,
                           cudaStream_t stream);

// *out (one device double) = sum of x[i]^2, accumulated in f64, deterministic.
template <class T>
void sum_squares(const T* x, int64_t n, double* out, DeviceAllocator& alloc, cudaStream_t stream);

// y[i] = x[i] converted (bf16 rounding to nearest even).
template <class S, class D> void cast(const S* x, D* y, int64_t n, cudaStream_t stream);

// Fills n bytes with `byte` (0xff makes f32 and bf16 NaN: the poison of the kernel checks).
void fill_bytes(void* p, uint8_t byte, size_t n, cudaStream_t stream);

// p[i] = lo + (hi - lo) * launch::uniform_hash(seed, i), rounded to T: reproducible random
// data for benchmarks (a GPU's speed depends on the bits it multiplies, not only the shapes).
template <class T> void fill_uniform(T* p, int64_t n, float lo, float hi, uint64_t seed, cudaStream_t stream);

} // namespace glm3d::cuda
