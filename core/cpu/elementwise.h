#pragma once
// Small element-wise helpers used by the model.
#include <cstdint>

namespace glm3d::cpu {

// out[i] = a[i] * alpha + b[i]   (the DeepNorm residual; out may alias a or b)
template <class T> void scale_add(const T* a, double alpha, const T* b, T* out, int64_t n);
// y[i] += alpha * x[i]
template <class T> void axpy(double alpha, const T* x, T* y, int64_t n);
// sum of squares (accumulated in double)
template <class T> double sum_squares(const T* x, int64_t n);
// x[i] *= alpha
template <class T> void scale(T* x, double alpha, int64_t n);

} // namespace glm3d::cpu
