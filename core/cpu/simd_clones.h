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
//
// Reductions (sums, maxima) inside such a lambda use for_lanes + fold_lanes below, not
// `#pragma omp simd reduction`: GCC 12 does not vectorise an OpenMP simd reduction in a lambda
// inlined into a clone (-fopt-info-vec-missed: "no vectype for stmt" on the reduction's
// privatised simd array), so every such loop ran scalar, one dependent add per element.
// Explicit lanes need no reassociation, so they vectorise in every clone, and the summation
// order, fixed by kLanes, is the same for AVX-512, AVX2 and SSE2 (the AVX-512 and AVX2 clones,
// which both contract a * b + c into FMAs, give the same bits; the baseline may differ there).
#include <cstdint>
#include <omp.h>

// clang (only the fuzzing build uses it: tests/fuzz/run.sh) does not multiversion function
// templates (clang 14: "multiversioned functions do not yet support function templates"), so
// there every kernel is compiled once, for the baseline: fuzzing wants coverage, not speed.
#if defined(__clang__)
#define GLM3D_SIMD_CLONES
#else
#define GLM3D_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
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

// Partial results per reduction: lane l of a loop over [i0, i1) takes i0 + l, i0 + l + kLanes, ...
// 16 lanes fill two AVX-512 registers of doubles or one of floats.
constexpr int kLanes = 16;

// body(i, l) for i in [i0, i1), l = (i - i0) % kLanes: in blocks of kLanes (vectorised across
// l; body may also write element i), then the tail. Accumulate into acc[l].
template <class Body> GLM3D_INLINE inline void for_lanes(int64_t i0, int64_t i1, const Body& body) {
  int64_t i = i0;
  for (; i + kLanes <= i1; i += kLanes)
#pragma omp simd
    for (int l = 0; l < kLanes; ++l)
      body(i + l, l);
  for (int l = 0; i < i1; ++i, ++l)
    body(i, l);
}

// acc[0] op acc[1] op ... op acc[kLanes - 1] as a pairwise tree, always in the same order
// (acc is overwritten).
template <class A, class Op> GLM3D_INLINE inline A fold_lanes(A* acc, const Op& op) {
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l)
      acc[l] = op(acc[l], acc[l + w]);
  return acc[0];
}

// The sum of the lanes' partial sums (fold_lanes with +).
template <class A> GLM3D_INLINE inline A fold_sum(A* acc) {
  return fold_lanes(acc, [](A a, A b) GLM3D_INLINE { return a + b; });
}

// Sum of term(i) over [i0, i1) in A (e.g. double for float terms), in the lane order above.
template <class A, class Term> GLM3D_INLINE inline A lane_sum(int64_t i0, int64_t i1, const Term& term) {
  A acc[kLanes] = {};
  for_lanes(i0, i1, [&](int64_t i, int l) GLM3D_INLINE { acc[l] += A(term(i)); });
  return fold_sum(acc);
}

// Maximum of x[i] over [i0, i1) and `init`.
template <class T> GLM3D_INLINE inline T lane_max(const T* x, int64_t i0, int64_t i1, T init) {
  T acc[kLanes];
  for (int l = 0; l < kLanes; ++l)
    acc[l] = init;
  for_lanes(i0, i1, [&](int64_t i, int l) GLM3D_INLINE { acc[l] = x[i] > acc[l] ? x[i] : acc[l]; });
  return fold_lanes(acc, [](T a, T b) GLM3D_INLINE { return b > a ? b : a; });
}

} // namespace glm3d::cpu
