#include "model/lora.h"

#include "core/cpu/matmul.h"
#include "model/prefix.h"

#include <algorithm>

namespace glm3d {

namespace {
// The dropout scale of input element (row n, local column c): 0 or 1 / (1 - p), indexed by the
// global element number.
double keep_scale(const LoraDropout& d, int64_t n, int64_t c) {
  const int64_t k = d.sample_ids ? d.sample_ids[n / d.S] : n / d.S;
  return dropout_keep_scale(d.key, uint64_t((k * d.S + n % d.S) * d.in_full + d.col0 + c), d.p);
}
} // namespace

template <class T> void lora_drop(const T* x, T* xd, const LoraShape& s, const LoraDropout& d) {
  if (!d.active()) {
    std::copy(x, x + s.N * s.in, xd);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t c = 0; c < s.in; ++c)
      xd[n * s.in + c] = T(double(x[n * s.in + c]) * keep_scale(d, n, c));
}

template <class T> void lora_down(const T* xd, const T* A, T* z, const LoraShape& s) {
  cpu::gemm<T>(false, true, s.N, s.r, s.in, xd, A, z, 0.0f); // [N, in] . [r, in]^T
}

template <class T> void lora_up(const T* z, const T* B, T* y, const LoraShape& s) {
  std::vector<T> t(size_t(s.N * s.out));
  cpu::gemm<T>(false, true, s.N, s.out, s.r, z, B, t.data(), 0.0f); // [N, r] . [out, r]^T
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < s.N * s.out; ++i)
    y[i] += T(s.scaling) * t[size_t(i)];
}

template <class T>
void lora_backward(const T* dy, const T* xd, const T* z, const T* B, T* dz, T* dA, T* dB,
                   const LoraShape& s) {
  std::vector<T> sdy(dy, dy + s.N * s.out); // scaling dy
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < s.N * s.out; ++i)
    sdy[size_t(i)] *= T(s.scaling);
  cpu::gemm<T>(true, false, s.out, s.r, s.N, sdy.data(), z, dB, 1.0f);  // dB [out, r] += (s dy)^T z
  cpu::gemm<T>(false, false, s.N, s.r, s.out, sdy.data(), B, dz, 0.0f); // dz [N, r] = (s dy) B
  cpu::gemm<T>(true, false, s.r, s.in, s.N, dz, xd, dA, 1.0f);          // dA [r, in] += dz^T xd
}

template <class T>
void merge_lora(T* W, const T* A, const T* B, int64_t out, int64_t in, int64_t r, double scaling) {
  std::vector<T> sB(B, B + out * r);
  for (T& v : sB)
    v *= T(scaling);
  cpu::gemm<T>(false, false, out, in, r, sB.data(), A, W, 1.0f); // W [out, in] += (s B) A
}

template <class T>
void lora_input_grad(const T* dz, const T* A, T* dx, const LoraShape& s, const LoraDropout& d) {
  std::vector<T> t(size_t(s.N * s.in));
  cpu::gemm<T>(false, false, s.N, s.in, s.r, dz, A, t.data(), 0.0f); // [N, r] . [r, in]
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t c = 0; c < s.in; ++c)
      dx[n * s.in + c] += T(double(t[size_t(n * s.in + c)]) * (d.active() ? keep_scale(d, n, c) : 1.0));
}

#define GLM3D_LORA(T)                                                                                        \
  template void lora_drop<T>(const T*, T*, const LoraShape&, const LoraDropout&);                            \
  template void lora_down<T>(const T*, const T*, T*, const LoraShape&);                                      \
  template void lora_up<T>(const T*, const T*, T*, const LoraShape&);                                        \
  template void lora_backward<T>(const T*, const T*, const T*, const T*, T*, T*, T*, const LoraShape&);      \
  template void merge_lora<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, double);                    \
  template void lora_input_grad<T>(const T*, const T*, T*, const LoraShape&, const LoraDropout&);
GLM3D_LORA(float)
GLM3D_LORA(double)

} // namespace glm3d
