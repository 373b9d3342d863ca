#include "core/cpu/rope.h"

#include "core/check.h"

#include <cmath>
#include <vector>

namespace glm3d::cpu {
namespace {

// base^(-2i / d) for i < d / 2.
std::vector<double> inverse_frequencies(double base, int64_t d) {
  std::vector<double> f(static_cast<size_t>(d / 2));
  for (int64_t i = 0; i < d / 2; ++i)
    f[i] = std::pow(base, -2.0 * double(i) / double(d));
  return f;
}

// c[i] = cos(p f_i), c[half + i] = sign sin(p f_i): the rotation (sign 1) or its inverse (-1).
template <class T> void cos_sin(double p, const std::vector<double>& freq, double sign, T* c) {
  const size_t half = freq.size();
  for (size_t i = 0; i < half; ++i) {
    const double t = p * freq[i];
    c[i] = T(std::cos(t));
    c[half + i] = T(sign * std::sin(t));
  }
}

// Rotates q and k of every (b, s, head) by +t (sign = 1, forward) or -t (sign = -1, the
// inverse used by backward). cos/sin are computed once per token and shared by all heads.
template <class T>
void rope_rotate(T* qkv, const int32_t* pos, const int32_t* block_pos, int64_t B, int64_t S, int64_t nh,
                 int64_t hd, double base, double sign) {
  const bool two_d = block_pos != nullptr;
  GLM3D_CHECK(hd % (two_d ? 4 : 2) == 0) << "rope: head dim " << hd << " must be divisible by "
                                         << (two_d ? 4 : 2) << " for " << (two_d ? "2D" : "1D") << " RoPE";
  const int64_t d = two_d ? hd / 2 : hd; // width of one rotated part
  const int64_t half = d / 2;
  const int parts = two_d ? 2 : 1;
  const std::vector<double> inv_freq = inverse_frequencies(base, d);
#pragma omp parallel
  {
    std::vector<T> cs(static_cast<size_t>(2 * parts * half)); // [parts][cos half | sin half]
#pragma omp for schedule(static)
    for (int64_t bs = 0; bs < B * S; ++bs) {
      for (int part = 0; part < parts; ++part)
        cos_sin(double(part == 0 ? pos[bs] : block_pos[bs]), inv_freq, sign, cs.data() + 2 * part * half);
      for (int64_t h = 0; h < nh; ++h) {
        for (int which = 0; which < 2; ++which) { // q, then k; v untouched
          T* x = qkv + ((bs * nh + h) * 3 + which) * hd;
          for (int part = 0; part < parts; ++part) {
            T* xp = x + part * d;
            const T* c = cs.data() + 2 * part * half;
            const T* s = c + half;
#pragma omp simd
            for (int64_t i = 0; i < half; ++i) {
              const T x1 = xp[i], x2 = xp[i + half];
              xp[i] = x1 * c[i] - x2 * s[i];
              xp[i + half] = x2 * c[i] + x1 * s[i];
            }
          }
        }
      }
    }
  }
}

// ChatGLM2's rotation of interleaved pairs in the first hd / 2 dims of each q and k head;
// cos/sin computed once per token and shared by all heads.
template <class T>
void rope_interleaved_rotate(const HeadView<T>& q, int64_t nq, const HeadView<T>& k, int64_t nk,
                             const int32_t* pos, int64_t B, int64_t S, int64_t hd, double base, double sign) {
  GLM3D_CHECK(hd % 4 == 0) << "rope: head dim " << hd << " must be divisible by 4 for half-interleaved RoPE";
  const int64_t rot = hd / 2, half = rot / 2;
  const std::vector<double> inv_freq = inverse_frequencies(base, rot);
#pragma omp parallel
  {
    std::vector<T> cs(static_cast<size_t>(2 * half)); // [cos half | sin half]
#pragma omp for schedule(static)
    for (int64_t bs = 0; bs < B * S; ++bs) {
      cos_sin(double(pos[bs]), inv_freq, sign, cs.data());
      const T* c = cs.data();
      const T* s = c + half;
      for (int which = 0; which < 2; ++which) {
        const HeadView<T>& v = which == 0 ? q : k;
        for (int64_t h = 0; h < (which == 0 ? nq : nk); ++h) {
          T* x = v.at(bs, h);
#pragma omp simd
          for (int64_t i = 0; i < half; ++i) {
            const T x0 = x[2 * i], x1 = x[2 * i + 1];
            x[2 * i] = x0 * c[i] - x1 * s[i];
            x[2 * i + 1] = x1 * c[i] + x0 * s[i];
          }
        }
      }
    }
  }
}

} // namespace

template <class T>
void rope_forward(T* qkv, const int32_t* pos, const int32_t* block_pos, int64_t B, int64_t S, int64_t nh,
                  int64_t hd, double base) {
  rope_rotate(qkv, pos, block_pos, B, S, nh, hd, base, 1.0);
}

template <class T>
void rope_backward(T* dqkv, const int32_t* pos, const int32_t* block_pos, int64_t B, int64_t S, int64_t nh,
                   int64_t hd, double base) {
  rope_rotate(dqkv, pos, block_pos, B, S, nh, hd, base, -1.0);
}

template <class T>
void rope_interleaved_forward(const HeadView<T>& q, int64_t nq, const HeadView<T>& k, int64_t nk,
                              const int32_t* pos, int64_t B, int64_t S, int64_t hd, double base) {
  rope_interleaved_rotate(q, nq, k, nk, pos, B, S, hd, base, 1.0);
}

template <class T>
void rope_interleaved_backward(const HeadView<T>& dq, int64_t nq, const HeadView<T>& dk, int64_t nk,
                               const int32_t* pos, int64_t B, int64_t S, int64_t hd, double base) {
  rope_interleaved_rotate(dq, nq, dk, nk, pos, B, S, hd, base, -1.0);
}

template void rope_forward<float>(float*, const int32_t*, const int32_t*, int64_t, int64_t, int64_t, int64_t,
                                  double);
template void rope_forward<double>(double*, const int32_t*, const int32_t*, int64_t, int64_t, int64_t,
                                   int64_t, double);
template void rope_backward<float>(float*, const int32_t*, const int32_t*, int64_t, int64_t, int64_t, int64_t,
                                   double);
template void rope_backward<double>(double*, const int32_t*, const int32_t*, int64_t, int64_t, int64_t,
                                    int64_t, double);

#define GLM3D_ROPE_INTERLEAVED(T)                                                                            \
  template void rope_interleaved_forward<T>(const HeadView<T>&, int64_t, const HeadView<T>&, int64_t,        \
                                            const int32_t*, int64_t, int64_t, int64_t, double);              \
  template void rope_interleaved_backward<T>(const HeadView<T>&, int64_t, const HeadView<T>&, int64_t,       \
                                             const int32_t*, int64_t, int64_t, int64_t, double);
GLM3D_ROPE_INTERLEAVED(float)
GLM3D_ROPE_INTERLEAVED(double)
#undef GLM3D_ROPE_INTERLEAVED

} // namespace glm3d::cpu
