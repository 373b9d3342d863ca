#include "core/cpu/flash_tile.h"

#include "core/check.h"
#include "core/cpu/fast_math.h"
#include "core/cpu/onednn.h"
#include "core/cpu/simd_clones.h"

#include <cmath>
#include <cstring>
#include <limits>

// The f32 row operations are compiled for AVX-512 and AVX2 besides the baseline and picked at
// load time (core/cpu/simd_clones.h): a 16-wide exp is what keeps the softmax of a tile small
// next to its two products.

namespace glm3d::cpu::flash {
namespace {

template <class F> [[gnu::always_inline]] inline F exp_of(F x) {
  if constexpr (sizeof(F) == 4)
    return exp_f32(x);
  else
    return std::exp(x);
}

// Round to nearest even on the bit pattern (as bf16's constructor, NaN kept quiet), written
// branch-free so the loops vectorise.
[[gnu::always_inline]] inline uint16_t bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return uint16_t((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : rounded);
}
[[gnu::always_inline]] inline uint16_t* bits_of(bf16* p) {
  return reinterpret_cast<uint16_t*>(p);
}

// b16[c] = x[c] rounded, c < n: a second pass over a row still in L1 (fusing it into the
// exp loop mixes 32- and 16-bit lanes and vectorised worse, measured with perf).
[[gnu::always_inline]] inline void round_row(const float* x, int64_t n, uint16_t* b16) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c)
    b16[c] = bf16_bits(x[c]);
}

// Row of a tile: x = f(x) over the first `vis` columns, 0 up to `cols`; also rounded into b16
// when given. Returns the sum of the written values.
template <class F, class Fn>
[[gnu::always_inline]] inline F map_row(F* row, int64_t vis, int64_t cols, uint16_t* b16, Fn f) {
  F sum[kLanes] = {};
  for_lanes(0, vis, [&](int64_t c, int l) GLM3D_INLINE {
    row[c] = f(row[c]);
    sum[l] += row[c];
  });
  std::fill(row + vis, row + cols, F(0));
  if constexpr (sizeof(F) == 4) {
    if (b16)
      round_row(row, cols, b16);
  }
  return fold_sum(sum);
}

template <class F>
[[gnu::always_inline]] inline void online_softmax_impl(F* s, int64_t rows, int64_t ld, const TileMask& mask,
                                                       F* m, F* l, F* corr, bf16* p16) {
  for (int64_t r = 0; r < rows; ++r) {
    F* row = s + r * ld;
    const int64_t vis = mask.cols_of(r);
    const F mx = lane_max(row, 0, vis, m[r]);
    // The first tile of a row always sees key 0, so mx is finite from then on.
    const F cr = m[r] == -std::numeric_limits<F>::infinity() ? F(0) : exp_of(m[r] - mx);
    const F sum = map_row(row, vis, mask.cols, p16 ? bits_of(p16 + r * ld) : nullptr,
                          [mx](F x) GLM3D_INLINE { return exp_of(x - mx); });
    m[r] = mx;
    l[r] = l[r] * cr + sum;
    corr[r] = cr;
  }
}

template <class F>
[[gnu::always_inline]] inline void probs_from_lse_impl(F* s, int64_t rows, int64_t ld, const TileMask& mask,
                                                       const F* lse, bf16* p16) {
  for (int64_t r = 0; r < rows; ++r) {
    const F z = lse[r];
    map_row(s + r * ld, mask.cols_of(r), mask.cols, p16 ? bits_of(p16 + r * ld) : nullptr,
            [z](F x) GLM3D_INLINE { return exp_of(x - z); });
  }
}

template <class F>
[[gnu::always_inline]] inline void softmax_grad_impl(const F* p, F* dp, int64_t rows, int64_t cols,
                                                     int64_t ld, const F* D, bf16* ds16) {
  for (int64_t r = 0; r < rows; ++r) {
    const F* pr = p + r * ld;
    F* d = dp + r * ld;
    const F Dr = D[r];
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c)
      d[c] = pr[c] * (d[c] - Dr);
    if constexpr (sizeof(F) == 4) {
      if (ds16)
        round_row(d, cols, bits_of(ds16 + r * ld));
    }
  }
}

// f64 products: the loop order of each case keeps the innermost loop contiguous.
void gemm_f64(Op op, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
              int64_t ldb, double* C, int64_t ldc, double alpha, bool accumulate) {
  for (int64_t i = 0; i < M; ++i) {
    double* c = C + i * ldc;
    if (op == Op::NT) {
      for (int64_t j = 0; j < N; ++j) {
        const double* a = A + i * lda;
        const double* b = B + j * ldb;
        const double dot = lane_sum<double>(0, K, [&](int64_t k) GLM3D_INLINE { return a[k] * b[k]; });
        c[j] = alpha * dot + (accumulate ? c[j] : 0.0);
      }
      continue;
    }
    if (!accumulate)
      std::fill(c, c + N, 0.0);
    for (int64_t k = 0; k < K; ++k) {
      const double a = alpha * (op == Op::TN ? A[k * lda + i] : A[i * lda + k]);
      const double* b = B + k * ldb;
#pragma omp simd
      for (int64_t j = 0; j < N; ++j)
        c[j] += a * b[j];
    }
  }
}

} // namespace

void check_shape(const FlashShape& sh, const FlashConfig& cfg) {
  GLM3D_CHECK(sh.B >= 0 && sh.S >= 0 && sh.nh > 0 && sh.ng > 0 && sh.hd > 0)
      << "flash attention: bad shape B=" << sh.B << " S=" << sh.S << " nh=" << sh.nh << " ng=" << sh.ng
      << " hd=" << sh.hd;
  GLM3D_CHECK(sh.nh % sh.ng == 0) << "flash attention: " << sh.ng << " kv groups do not divide " << sh.nh
                                  << " query heads";
  GLM3D_CHECK(cfg.fwd.q > 0 && cfg.fwd.kv > 0 && cfg.bwd.q > 0 && cfg.bwd.kv > 0 && cfg.bwd_head_parts >= 0)
      << "flash attention: bad tile sizes";
}

bool bf16_products(const FlashConfig& cfg) {
  using P = FlashConfig::Bf16Products;
  return cfg.bf16_products == P::bf16 ||
         (cfg.bf16_products == P::automatic && detail::onednn_bf16_matmul_in_hardware());
}

template <class T, class C>
void pack_rows(const HeadView<const T>& v, int64_t t0, int64_t head, int64_t n, int64_t hd, C* dst) {
  for (int64_t r = 0; r < n; ++r) {
    if constexpr (std::is_same_v<T, C>)
      std::memcpy(dst + r * hd, v.at(t0 + r, head), size_t(hd) * sizeof(T));
    else
      widen_row(v.at(t0 + r, head), hd, dst + r * hd);
  }
}

template <class T>
void unpack_rows(const acc_t<T>* src, int64_t n, int64_t hd, const HeadView<T>& v, int64_t t0, int64_t head) {
  for (int64_t r = 0; r < n; ++r)
    store_row(src + r * hd, acc_t<T>(1), hd, v.at(t0 + r, head));
}

template <class T>
void tile_gemm(Op op, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
               acc_t<T>* C, int64_t ldc, acc_t<T> alpha, bool accumulate) {
  if constexpr (std::is_same_v<T, double>) {
    gemm_f64(op, M, N, K, A, lda, B, ldb, C, ldc, alpha, accumulate);
  } else {
    // (batch, row, col) strides; a transposed operand swaps row and column strides.
    detail::MatmulLayout l{1, M, N, K, {0, lda, 1}, {0, ldb, 1}, {0, ldc, 1}};
    if (op == Op::NT)
      l.b[1] = 1, l.b[2] = ldb;
    if (op == Op::TN)
      l.a[1] = 1, l.a[2] = lda;
    if constexpr (std::is_same_v<T, float>)
      detail::strided_matmul_f32(l, A, B, C, alpha, accumulate);
    else
      detail::strided_matmul_bf16(l, A, B, C, alpha, accumulate);
  }
}

GLM3D_SIMD_CLONES void online_softmax_tile(float* s, int64_t rows, int64_t ld, const TileMask& mask, float* m,
                                           float* l, float* corr, bf16* p16) {
  online_softmax_impl(s, rows, ld, mask, m, l, corr, p16);
}
void online_softmax_tile(double* s, int64_t rows, int64_t ld, const TileMask& mask, double* m, double* l,
                         double* corr, bf16*) {
  online_softmax_impl(s, rows, ld, mask, m, l, corr, nullptr);
}

GLM3D_SIMD_CLONES void probs_from_lse(float* s, int64_t rows, int64_t ld, const TileMask& mask,
                                      const float* lse, bf16* p16) {
  probs_from_lse_impl(s, rows, ld, mask, lse, p16);
}
void probs_from_lse(double* s, int64_t rows, int64_t ld, const TileMask& mask, const double* lse, bf16*) {
  probs_from_lse_impl(s, rows, ld, mask, lse, nullptr);
}

GLM3D_SIMD_CLONES void softmax_grad_tile(const float* p, float* dp, int64_t rows, int64_t cols, int64_t ld,
                                         const float* D, bf16* ds16) {
  softmax_grad_impl(p, dp, rows, cols, ld, D, ds16);
}
void softmax_grad_tile(const double* p, double* dp, int64_t rows, int64_t cols, int64_t ld, const double* D,
                       bf16*) {
  softmax_grad_impl(p, dp, rows, cols, ld, D, nullptr);
}

GLM3D_SIMD_CLONES void store_row(const float* src, float scale, int64_t n, float* dst) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i)
    dst[i] = src[i] * scale;
}
GLM3D_SIMD_CLONES void store_row(const float* src, float scale, int64_t n, bf16* dst) {
  uint16_t* b = bits_of(dst);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i)
    b[i] = bf16_bits(src[i] * scale);
}
// bf16 -> f32 is exact: the bits shifted into the upper half.
GLM3D_SIMD_CLONES void widen_row(const bf16* src, int64_t n, float* dst) {
  const uint16_t* b = reinterpret_cast<const uint16_t*>(src);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = uint32_t(b[i]) << 16;
    std::memcpy(dst + i, &u, 4);
  }
}

void store_row(const double* src, double scale, int64_t n, double* dst) {
  for (int64_t i = 0; i < n; ++i)
    dst[i] = src[i] * scale;
}

#define GLM3D_FLASH_TILE(T)                                                                                  \
  template void unpack_rows<T>(const acc_t<T>*, int64_t, int64_t, const HeadView<T>&, int64_t, int64_t);     \
  template void tile_gemm<T>(Op, int64_t, int64_t, int64_t, const T*, int64_t, const T*, int64_t, acc_t<T>*, \
                             int64_t, acc_t<T>, bool);
GLM3D_FLASH_TILE(double)
GLM3D_FLASH_TILE(float)
GLM3D_FLASH_TILE(bf16)
#undef GLM3D_FLASH_TILE
template void pack_rows<double, double>(const HeadView<const double>&, int64_t, int64_t, int64_t, int64_t,
                                        double*);
template void pack_rows<float, float>(const HeadView<const float>&, int64_t, int64_t, int64_t, int64_t,
                                      float*);
template void pack_rows<bf16, bf16>(const HeadView<const bf16>&, int64_t, int64_t, int64_t, int64_t, bf16*);
template void pack_rows<bf16, float>(const HeadView<const bf16>&, int64_t, int64_t, int64_t, int64_t, float*);

} // namespace glm3d::cpu::flash
