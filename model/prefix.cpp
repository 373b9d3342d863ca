#include "model/prefix.h"

#include "core/cpu/matmul.h"
#include "core/philox.h"

#include <cmath>
#include <vector>

namespace glm3d {

double dropout_keep_scale(uint64_t key, uint64_t index, double p) {
  uint32_t o[4]; // four uniforms per Philox block
  Philox4x32::generate(index / 4, key, o);
  const double u = double(o[index % 4]) / 4294967296.0;
  return u >= p ? 1.0 / (1.0 - p) : 0.0;
}

template <class T> void prefix_hidden(const PrefixEncoderRef<T>& e, T* t) {
  cpu::gemm<T>(false, true, e.P, e.H, e.E, e.emb, e.w0, t, 0.0f); // [P, E] . [H, E]^T
  for (int64_t p = 0; p < e.P; ++p)
    for (int64_t i = 0; i < e.H; ++i)
      t[p * e.H + i] = std::tanh(t[p * e.H + i] + e.b0[i]);
}

template <class T>
void prefix_slice_forward(const PrefixEncoderRef<T>& e, const T* t, const PrefixSlice& s, T* kv) {
  const int64_t cols[2] = {s.key, s.value};
  std::vector<T> y(size_t(e.P * s.w));
  for (int kvi = 0; kvi < 2; ++kvi) {
    const int64_t c0 = cols[kvi];
    if (e.projection)
      cpu::gemm<T>(false, true, e.P, s.w, e.H, t, e.w2 + c0 * e.H, y.data(), 0.0f); // [P, H] . [w, H]^T
    for (int64_t p = 0; p < e.P; ++p)
      for (int64_t j = 0; j < s.w; ++j)
        kv[(p * 2 + kvi) * s.w + j] =
            e.projection ? y[size_t(p * s.w + j)] + e.b2[c0 + j] : e.emb[p * e.C + c0 + j];
  }
}

template <class T>
void prefix_slice_backward(const PrefixEncoderRef<T>& e, const T* t, const PrefixSlice& s, const T* dkv) {
  const int64_t cols[2] = {s.key, s.value};
  std::vector<T> dy(size_t(e.P * s.w)), dt(size_t(e.P * e.H), T(0));
  for (int kvi = 0; kvi < 2; ++kvi) {
    const int64_t c0 = cols[kvi];
    for (int64_t p = 0; p < e.P; ++p)
      for (int64_t j = 0; j < s.w; ++j) {
        const T g = dkv[(p * 2 + kvi) * s.w + j];
        if (!e.projection)
          e.gemb[p * e.C + c0 + j] += g;
        dy[size_t(p * s.w + j)] = g;
      }
    if (!e.projection)
      continue;
    for (int64_t p = 0; p < e.P; ++p)
      for (int64_t j = 0; j < s.w; ++j)
        e.gb2[c0 + j] += dy[size_t(p * s.w + j)];
    cpu::gemm<T>(true, false, s.w, e.H, e.P, dy.data(), t, e.gw2 + c0 * e.H, 1.0f);         // dW2 += dy^T t
    cpu::gemm<T>(false, false, e.P, e.H, s.w, dy.data(), e.w2 + c0 * e.H, dt.data(), 1.0f); // dt += dy W2
  }
  if (!e.projection)
    return;
  for (int64_t p = 0; p < e.P; ++p) // through tanh: d pre = dt (1 - t^2)
    for (int64_t i = 0; i < e.H; ++i) {
      T& d = dt[size_t(p * e.H + i)];
      d *= T(1) - t[p * e.H + i] * t[p * e.H + i];
      e.gb0[i] += d;
    }
  cpu::gemm<T>(true, false, e.H, e.E, e.P, dt.data(), e.emb, e.gw0, 1.0f);  // dW0 [H, E] += dpre^T emb
  cpu::gemm<T>(false, false, e.P, e.E, e.H, dt.data(), e.w0, e.gemb, 1.0f); // demb [P, E] += dpre W0
}

#define GLM3D_PREFIX(T)                                                                                      \
  template void prefix_hidden<T>(const PrefixEncoderRef<T>&, T*);                                            \
  template void prefix_slice_forward<T>(const PrefixEncoderRef<T>&, const T*, const PrefixSlice&, T*);       \
  template void prefix_slice_backward<T>(const PrefixEncoderRef<T>&, const T*, const PrefixSlice&, const T*);
GLM3D_PREFIX(float)
GLM3D_PREFIX(double)

} // namespace glm3d
