#include "core/cpu/cross_entropy.h"

#include "core/check.h"
#include "core/cpu/fast_math.h"
#include "core/cpu/simd_clones.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace glm3d::cpu {
namespace {

// Local columns [0, valid) hold real vocab ids; the rest of the slice is padding.
int64_t valid_columns(int64_t Vl, int64_t v0, int64_t vocab_real) {
  return std::clamp<int64_t>(vocab_real - v0, 0, Vl);
}

} // namespace

// Three passes with two reductions in between: (1) row max, reduced with max; (2) target
// logit (read before probs may overwrite logits), then exp and local sum, both reduced in
// one sum call over a [2N] buffer; (3) normalise.
template <class T>
void vocab_parallel_ce_forward(const T* logits, const int32_t* targets, const uint8_t* mask, T* losses,
                               T* probs, int64_t N, int64_t Vl, int64_t v0, int64_t vocab_real,
                               const VocabReduce<T>& reduce) {
  GLM3D_CHECK(vocab_real > 0 && v0 >= 0 && Vl >= 0)
      << "cross-entropy: bad vocab slice v0=" << v0 << " Vl=" << Vl << " vocab_real=" << vocab_real;
  const int64_t valid = valid_columns(Vl, v0, vocab_real);
  for (int64_t n = 0; n < N; ++n)
    GLM3D_CHECK(!mask[n] || (targets[n] >= 0 && targets[n] < vocab_real))
        << "cross-entropy: target " << targets[n] << " at row " << n << " is outside the vocabulary [0, "
        << vocab_real << ")";
  std::vector<T> rowmax(static_cast<size_t>(N)),
      sums(static_cast<size_t>(2 * N)); // sums: [sum exp (N) | target logit (N)]
  T* const rmax = rowmax.data();
  parallel_rows(N, [=](int64_t n) GLM3D_INLINE {
    rmax[n] = lane_max(logits + n * Vl, 0, valid, -std::numeric_limits<T>::infinity());
  });
  reduce.max(rowmax.data(), N);
  T* const sum = sums.data();
  parallel_rows(N, [=](int64_t n) GLM3D_INLINE {
    const T* x = logits + n * Vl;
    const int64_t t = int64_t(targets[n]) - v0;
    sum[N + n] = (mask[n] && t >= 0 && t < valid) ? x[t] : T(0);
    T* p = probs + n * Vl;
    const T mx = rmax[n];
    const double s = lane_sum<double>(0, valid, [&](int64_t v) GLM3D_INLINE {
      if constexpr (sizeof(T) == 4)
        p[v] = exp_f32(x[v] - mx); // vectorised (core/cpu/fast_math.h)
      else
        p[v] = std::exp(x[v] - mx);
      return p[v];
    });
    std::fill(p + valid, p + Vl, T(0));
    sum[n] = T(s);
  });
  reduce.sum(sums.data(), 2 * N);
  parallel_rows(N, [=](int64_t n) GLM3D_INLINE {
    const T inv = T(1) / sum[n];
    T* p = probs + n * Vl;
#pragma omp simd
    for (int64_t v = 0; v < valid; ++v)
      p[v] *= inv;
    losses[n] = mask[n] ? T(std::log(sum[n]) + rmax[n] - sum[N + n]) : T(0);
  });
}

template <class T>
void vocab_parallel_ce_backward(const T* probs, const int32_t* targets, const uint8_t* mask, const T* dloss,
                                T* dlogits, int64_t N, int64_t Vl, int64_t v0, int64_t vocab_real) {
  const int64_t valid = valid_columns(Vl, v0, vocab_real);
  parallel_rows(N, [=](int64_t n) GLM3D_INLINE {
    const T* p = probs + n * Vl;
    T* d = dlogits + n * Vl;
    if (!mask[n]) {
      std::fill(d, d + Vl, T(0));
      return;
    }
    const T g = dloss[n];
#pragma omp simd
    for (int64_t v = 0; v < valid; ++v)
      d[v] = p[v] * g;
    std::fill(d + valid, d + Vl, T(0));
    const int64_t t = int64_t(targets[n]) - v0;
    if (t >= 0 && t < valid)
      d[t] -= g;
  });
}

template void vocab_parallel_ce_forward<float>(const float*, const int32_t*, const uint8_t*, float*, float*,
                                               int64_t, int64_t, int64_t, int64_t, const VocabReduce<float>&);
template void vocab_parallel_ce_forward<double>(const double*, const int32_t*, const uint8_t*, double*,
                                                double*, int64_t, int64_t, int64_t, int64_t,
                                                const VocabReduce<double>&);
template void vocab_parallel_ce_backward<float>(const float*, const int32_t*, const uint8_t*, const float*,
                                                float*, int64_t, int64_t, int64_t, int64_t);
template void vocab_parallel_ce_backward<double>(const double*, const int32_t*, const uint8_t*, const double*,
                                                 double*, int64_t, int64_t, int64_t, int64_t);

} // namespace glm3d::cpu
