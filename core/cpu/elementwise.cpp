#include "core/cpu/elementwise.h"

#include "core/cpu/simd_clones.h"

#include <cstddef>
#include <cstring>
#include <vector>

namespace glm3d::cpu {

template <class T>
void scale_add(const T* a, double alpha, const T* b, const T* bias, T* out, int64_t N, int64_t C) {
  const T al = T(alpha);
  parallel_rows(N, [=](int64_t n) GLM3D_INLINE {
    const int64_t o = n * C;
    if (bias) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c)
        out[o + c] = a[o + c] * al + b[o + c] + bias[c];
    } else {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c)
        out[o + c] = a[o + c] * al + b[o + c];
    }
  });
}

template <class T> void axpy(double alpha, const T* x, T* y, int64_t n) {
  const T al = T(alpha);
  parallel_simd(n, [=](int64_t i0, int64_t i1) GLM3D_INLINE {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i)
      y[i] += al * x[i];
  });
}

// Each thread sums its share into its own slot; the slots are added in thread order, so the
// result is deterministic for a given thread count (an OpenMP reduction's order is not).
template <class T> double sum_squares(const T* x, int64_t n) {
  std::vector<double> partial(std::size_t(omp_get_max_threads()), 0.0);
  double* const part = partial.data();
  parallel_simd(n, [=](int64_t i0, int64_t i1) GLM3D_INLINE {
    part[omp_get_thread_num()] =
        lane_sum<double>(i0, i1, [&](int64_t i) GLM3D_INLINE { return double(x[i]) * double(x[i]); });
  });
  double s = 0.0;
  for (double p : partial)
    s += p;
  return s;
}

template <class T> void scale(T* x, double alpha, int64_t n) {
  const T al = T(alpha);
  parallel_simd(n, [=](int64_t i0, int64_t i1) GLM3D_INLINE {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i)
      x[i] *= al;
  });
}

template <class T> void zero(T* x, int64_t n) {
  parallel_simd(n, [=](int64_t i0, int64_t i1)
                       GLM3D_INLINE { std::memset(x + i0, 0, size_t(i1 - i0) * sizeof(T)); });
}

template void scale_add<float>(const float*, double, const float*, const float*, float*, int64_t, int64_t);
template void scale_add<double>(const double*, double, const double*, const double*, double*, int64_t,
                                int64_t);
template void axpy<float>(double, const float*, float*, int64_t);
template void axpy<double>(double, const double*, double*, int64_t);
template double sum_squares<float>(const float*, int64_t);
template double sum_squares<double>(const double*, int64_t);
template void scale<float>(float*, double, int64_t);
template void scale<double>(double*, double, int64_t);
template void zero<float>(float*, int64_t);
template void zero<double>(double*, int64_t);

} // namespace glm3d::cpu
