#pragma once
// Element-wise kernels compiled for the widest vectors the CPU has, in one binary.
//
// The build targets baseline x86-64 (SSE2), so one glm3d runs on every node of a cluster. A
// function marked GLM3D_SIMD_CLONES is compiled three times (x86-64-v4: AVX-512; v3: AVX2 and
// FMA; baseline) and the loader picks the widest the CPU supports (GCC function
// multi-versioning). Results are deterministic on a given machine; across machines of different
// vector widths they may differ in the last bits, as oneDNN's matmuls already do.
//
// OpenMP moves the body of a `parallel` region into a function of its own, which is not cloned:
// a loop inside `#pragma omp parallel for` of a cloned function still runs baseline code. So the
// parallel region stays outside and each thread calls a cloned function on its share:
//
//   parallel_simd(n, [&](int64_t i0, int64_t i1) GLM3D_INLINE {
//   #pragma omp simd
//     for (int64_t i = i0; i < i1; ++i) y[i] = f(x[i]);
//   });
//
// The lambda must be always-inline so that it is compiled inside each clone.
#include <cstdint>
#include <omp.h>

#define GLM3D_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define GLM3D_INLINE __attribute__((always_inline))

namespace glm3d::cpu {

// Runs f(i0, i1) once, compiled for the CPU's widest vectors.
template <class F> GLM3D_SIMD_CLONES void simd_range(const F& f, int64_t i0, int64_t i1) {
  f(i0, i1);
}

// [0, n) split into one contiguous share per OpenMP thread (shares a multiple of `grain`, so
// element-wise kernels do not split a cache line between threads; rows use grain 1); each
// thread runs f on its share through simd_range. Inside f, omp_get_thread_num() is the share's
// index, so f may own per-thread buffers.
template <class F> void parallel_simd(int64_t n, const F& f, int64_t grain = 16) {
  if (n <= 0)
    return;
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t share = (n + nt - 1) / nt, step = (share + grain - 1) / grain * grain;
    const int64_t i0 = t * step < n ? t * step : n, i1 = i0 + step < n ? i0 + step : n;
    if (i1 > i0)
      simd_range(f, i0, i1);
  }
}

// Rows [0, N) split over the threads as parallel_simd's shares; f(n) handles row n, compiled
// inside the clone (f must be always-inline too).
template <class F> void parallel_rows(int64_t N, const F& f) {
  parallel_simd(
      N,
      [&](int64_t n0, int64_t n1) GLM3D_INLINE {
        for (int64_t n = n0; n < n1; ++n)
          f(n);
      },
      1);
}

} // namespace glm3d::cpu
