#include "core/cpu/elementwise.h"

namespace glm3d::cpu {

template <class T>
void scale_add(const T* a, double alpha, const T* b, const T* bias, T* out, int64_t N, int64_t C) {
  const T al = T(alpha);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
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
  }
}

template <class T> void axpy(double alpha, const T* x, T* y, int64_t n) {
  const T al = T(alpha);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i)
    y[i] += al * x[i];
}

template <class T> double sum_squares(const T* x, int64_t n) {
  double s = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : s)
  for (int64_t i = 0; i < n; ++i)
    s += double(x[i]) * double(x[i]);
  return s;
}

template <class T> void scale(T* x, double alpha, int64_t n) {
  const T al = T(alpha);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i)
    x[i] *= al;
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

} // namespace glm3d::cpu
