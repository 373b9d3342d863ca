#include "core/cpu/activation.h"

#include "core/cpu/fast_math.h"

#include <cmath>

namespace glm3d::cpu {
namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kCoeff = 0.044715;

// f32 uses the vectorisable tanh (core/cpu/fast_math.h); f64 the library one (test reference).
template <class T> inline T tanh_of(T u) {
  if constexpr (sizeof(T) == 4)
    return tanh_f32(u);
  else
    return std::tanh(u);
}

template <class T> inline T gelu(T x) {
  const T u = T(kSqrt2OverPi) * (x + T(kCoeff) * x * x * x);
  return T(0.5) * x * (T(1) + tanh_of(u));
}

// d/dx of 0.5 x (1 + tanh(u)):  0.5 (1 + t) + 0.5 x (1 - t^2) u'(x)
template <class T> inline T gelu_grad(T x) {
  const T u = T(kSqrt2OverPi) * (x + T(kCoeff) * x * x * x);
  const T t = tanh_of(u);
  const T du = T(kSqrt2OverPi) * (T(1) + T(3 * kCoeff) * x * x);
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
}

} // namespace

template <class T> void gelu_forward(const T* x, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i)
    y[i] = gelu(x[i]);
}

template <class T> void gelu_backward(const T* x, const T* dy, T* dx, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i)
    dx[i] = dy[i] * gelu_grad(x[i]);
}

template <class T> void geglu_forward(const T* x, T* y, int64_t N, int64_t F) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < N; ++r) {
    const T* a = x + r * 2 * F; // [F]
    const T* g = a + F;         // [F]
    T* yr = y + r * F;
#pragma omp simd
    for (int64_t i = 0; i < F; ++i)
      yr[i] = a[i] * gelu(g[i]);
  }
}

template <class T> void geglu_backward(const T* x, const T* dy, T* dx, int64_t N, int64_t F) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < N; ++r) {
    const T* a = x + r * 2 * F;
    const T* g = a + F;
    const T* dyr = dy + r * F;
    T* da = dx + r * 2 * F;
    T* dg = da + F;
#pragma omp simd
    for (int64_t i = 0; i < F; ++i) {
      da[i] = dyr[i] * gelu(g[i]);
      dg[i] = dyr[i] * a[i] * gelu_grad(g[i]);
    }
  }
}

template void gelu_forward<float>(const float*, float*, int64_t);
template void gelu_forward<double>(const double*, double*, int64_t);
template void gelu_backward<float>(const float*, const float*, float*, int64_t);
template void gelu_backward<double>(const double*, const double*, double*, int64_t);
template void geglu_forward<float>(const float*, float*, int64_t, int64_t);
template void geglu_forward<double>(const double*, double*, int64_t, int64_t);
template void geglu_backward<float>(const float*, const float*, float*, int64_t, int64_t);
template void geglu_backward<double>(const double*, const double*, double*, int64_t, int64_t);

} // namespace glm3d::cpu
