#include "core/cpu/activation.h"

#include "core/cpu/fast_math.h"
#include "core/cpu/simd_clones.h"

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
  parallel_simd(n, [=](int64_t i0, int64_t i1) GLM3D_INLINE {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i)
      y[i] = gelu(x[i]);
  });
}

template <class T> void gelu_backward(const T* x, const T* dy, T* dx, int64_t n) {
  parallel_simd(n, [=](int64_t i0, int64_t i1) GLM3D_INLINE {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i)
      dx[i] = dy[i] * gelu_grad(x[i]);
  });
}

namespace {

// Gated rows x [N, 2F] -> y [N, F]: y = value * act(gate), the gate in the first half
// (gate_first) or the second. Act is a functor with value(g) and grad(g) = d act / dg.
template <class T, class Act> void glu_forward(const T* x, T* y, int64_t N, int64_t F, bool gate_first) {
  parallel_rows(N, [=](int64_t r) GLM3D_INLINE {
    const T* g = x + r * 2 * F + (gate_first ? 0 : F); // [F]
    const T* v = x + r * 2 * F + (gate_first ? F : 0); // [F]
    T* yr = y + r * F;
#pragma omp simd
    for (int64_t i = 0; i < F; ++i)
      yr[i] = v[i] * Act::value(g[i]);
  });
}

// dvalue = dy act(gate), dgate = dy value act'(gate); dx [N, 2F] overwritten.
template <class T, class Act>
void glu_backward(const T* x, const T* dy, T* dx, int64_t N, int64_t F, bool gate_first) {
  const int64_t go = gate_first ? 0 : F, vo = gate_first ? F : 0;
  parallel_rows(N, [=](int64_t r) GLM3D_INLINE {
    const T* g = x + r * 2 * F + go;
    const T* v = x + r * 2 * F + vo;
    const T* dyr = dy + r * F;
    T* dg = dx + r * 2 * F + go;
    T* dv = dx + r * 2 * F + vo;
#pragma omp simd
    for (int64_t i = 0; i < F; ++i) {
      dv[i] = dyr[i] * Act::value(g[i]);
      dg[i] = dyr[i] * v[i] * Act::grad(g[i]);
    }
  });
}

template <class T> struct Gelu {
  static T value(T x) { return gelu(x); }
  static T grad(T x) { return gelu_grad(x); }
};

// f32 uses the vectorisable exp (core/cpu/fast_math.h; it clamps its argument to [-87, 88], so
// sigmoid stays in [1.6e-38, 1] and silu never divides by an infinity); f64 the library one.
template <class T> struct Silu {
  static T sigmoid(T x) {
    if constexpr (sizeof(T) == 4)
      return T(1) / (T(1) + exp_f32(-x));
    else
      return T(1) / (T(1) + std::exp(-x));
  }
  static T value(T x) { return x * sigmoid(x); }
  static T grad(T x) {
    const T s = sigmoid(x);
    return s * (T(1) + x * (T(1) - s));
  }
};

} // namespace

template <class T> void geglu_forward(const T* x, T* y, int64_t N, int64_t F) {
  glu_forward<T, Gelu<T>>(x, y, N, F, false);
}

template <class T> void geglu_backward(const T* x, const T* dy, T* dx, int64_t N, int64_t F) {
  glu_backward<T, Gelu<T>>(x, dy, dx, N, F, false);
}

template <class T> void swiglu_forward(const T* x, T* y, int64_t N, int64_t F) {
  glu_forward<T, Silu<T>>(x, y, N, F, true);
}

template <class T> void swiglu_backward(const T* x, const T* dy, T* dx, int64_t N, int64_t F) {
  glu_backward<T, Silu<T>>(x, dy, dx, N, F, true);
}

template void gelu_forward<float>(const float*, float*, int64_t);
template void gelu_forward<double>(const double*, double*, int64_t);
template void gelu_backward<float>(const float*, const float*, float*, int64_t);
template void gelu_backward<double>(const double*, const double*, double*, int64_t);
template void geglu_forward<float>(const float*, float*, int64_t, int64_t);
template void geglu_forward<double>(const double*, double*, int64_t, int64_t);
template void geglu_backward<float>(const float*, const float*, float*, int64_t, int64_t);
template void geglu_backward<double>(const double*, const double*, double*, int64_t, int64_t);
template void swiglu_forward<float>(const float*, float*, int64_t, int64_t);
template void swiglu_forward<double>(const double*, double*, int64_t, int64_t);
template void swiglu_backward<float>(const float*, const float*, float*, int64_t, int64_t);
template void swiglu_backward<double>(const double*, const double*, double*, int64_t, int64_t);

} // namespace glm3d::cpu
