#pragma once
// Small element-wise helpers used by the model.
#include <cstdint>

namespace glm3d::cpu {

// The DeepNorm residual, one pass over [N, C]:
//   out[n, c] = a[n, c] * alpha + b[n, c] + bias[c]      (bias may be null; out may alias a or b)
template <class T>
void scale_add(const T* a, double alpha, const T* b, const T* bias, T* out, int64_t N, int64_t C);
// y[i] += alpha * x[i]
template <class T> void axpy(double alpha, const T* x, T* y, int64_t n);
// sum of squares (accumulated in double)
template <class T> double sum_squares(const T* x, int64_t n);
// x[i] *= alpha
template <class T> void scale(T* x, double alpha, int64_t n);
// x[i] = 0, the threads each clearing one share (a 534 MB gradient buffer: 51 ms with one
// memset, 27 ms with two threads' shares, 2 threads here)
template <class T> void zero(T* x, int64_t n);

} // namespace glm3d::cpu
