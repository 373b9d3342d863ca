#include "core/cpu/rope.h"

#include "core/check.h"

#include <cmath>
#include <vector>

namespace glm3d::cpu {
namespace {

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
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv_freq[i] = std::pow(base, -2.0 * double(i) / double(d));
#pragma omp parallel
  {
    std::vector<T> cs(static_cast<size_t>(2 * parts * half)); // [parts][cos half | sin half]
#pragma omp for schedule(static)
    for (int64_t bs = 0; bs < B * S; ++bs) {
      for (int part = 0; part < parts; ++part) {
        const double p = double(part == 0 ? pos[bs] : block_pos[bs]);
        T* c = cs.data() + 2 * part * half;
        for (int64_t i = 0; i < half; ++i) {
          const double t = p * inv_freq[i];
          c[i] = T(std::cos(t));
          c[half + i] = T(sign * std::sin(t));
        }
      }
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

template void rope_forward<float>(float*, const int32_t*, const int32_t*, int64_t, int64_t, int64_t, int64_t,
                                  double);
template void rope_forward<double>(double*, const int32_t*, const int32_t*, int64_t, int64_t, int64_t,
                                   int64_t, double);
template void rope_backward<float>(float*, const int32_t*, const int32_t*, int64_t, int64_t, int64_t, int64_t,
                                   double);
template void rope_backward<double>(double*, const int32_t*, const int32_t*, int64_t, int64_t, int64_t,
                                    int64_t, double);

} // namespace glm3d::cpu
