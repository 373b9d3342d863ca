#include "core/cpu/embedding.h"

#include <algorithm>
#include <cstring>

namespace glm3d::cpu {

template <class T>
void embedding_forward(const int32_t* tokens, const T* W, T* out, int64_t N, int64_t H, int64_t v0,
                       int64_t Vl) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const int64_t t = int64_t(tokens[n]) - v0;
    T* row = out + n * H;
    if (t >= 0 && t < Vl)
      std::memcpy(row, W + t * H, size_t(H) * sizeof(T));
    else
      std::fill(row, row + H, T(0)); // another rank's slice: the tp all-reduce adds it
  }
}

void embedding_forward(const int32_t* tokens, const bf16* W, float* out, int64_t N, int64_t H, int64_t v0,
                       int64_t Vl) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const int64_t t = int64_t(tokens[n]) - v0;
    float* row = out + n * H;
    if (t >= 0 && t < Vl)
      for (int64_t h = 0; h < H; ++h)
        row[h] = float(W[t * H + h]);
    else
      std::fill(row, row + H, 0.0f);
  }
}

// Threads own disjoint column blocks of dW, so repeated tokens never race and every
// element is summed in token order (deterministic).
template <class T>
void embedding_backward(const int32_t* tokens, const T* dout, T* dW, int64_t N, int64_t H, int64_t v0,
                        int64_t Vl) {
  constexpr int64_t kCols = 64;
  const int64_t nblocks = (H + kCols - 1) / kCols;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    const int64_t h0 = blk * kCols, h1 = std::min(H, h0 + kCols);
    for (int64_t n = 0; n < N; ++n) {
      const int64_t t = int64_t(tokens[n]) - v0;
      if (t < 0 || t >= Vl)
        continue;
      const T* src = dout + n * H;
      T* dst = dW + t * H;
      for (int64_t h = h0; h < h1; ++h)
        dst[h] += src[h];
    }
  }
}

template void embedding_forward<float>(const int32_t*, const float*, float*, int64_t, int64_t, int64_t,
                                       int64_t);
template void embedding_forward<double>(const int32_t*, const double*, double*, int64_t, int64_t, int64_t,
                                        int64_t);
template void embedding_backward<float>(const int32_t*, const float*, float*, int64_t, int64_t, int64_t,
                                        int64_t);
template void embedding_backward<double>(const int32_t*, const double*, double*, int64_t, int64_t, int64_t,
                                         int64_t);

} // namespace glm3d::cpu
