#pragma once
// Internal to the flash attention kernels: the mask arithmetic, dense tiles (packing, the
// tile products, the softmax row operations) shared by forward and backward.
#include "core/cpu/flash_attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace glm3d::cpu::flash {

template <class T> using acc_t = flash_acc_t<T>;

// ------------------------------------------------------------------ mask
// Query i sees the key prefix [0, max(sep, i + 1)).
inline int64_t visible_keys(int64_t sep, int64_t i) {
  return std::max(sep, i + 1);
}
// Query block [i0, i1) needs the key blocks starting below this (skips the rest).
inline int64_t keys_needed(int64_t sep, int64_t i1, int64_t S) {
  return std::min(S, visible_keys(sep, i1 - 1));
}
inline int64_t clamp_sep(const int32_t* sep, int64_t b, int64_t S) {
  return sep ? std::clamp<int64_t>(sep[b], 0, S) : 0;
}
inline int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Which columns of a tile are visible: row r (query i0 + r) sees columns [0, cols_of(r)).
struct TileMask {
  int64_t sep, i0, j0, cols;
  int64_t cols_of(int64_t r) const { return std::clamp<int64_t>(visible_keys(sep, i0 + r) - j0, 0, cols); }
};

// Checks the shape and tile sizes of a call (GLM3D_CHECK).
void check_shape(const FlashShape& shape, const FlashConfig& cfg);

// Whether a bf16 call multiplies its tiles in bf16 (FlashConfig::bf16_products).
bool bf16_products(const FlashConfig& cfg);

// Runs f.template operator()<C>() with the tile type C of a call in T: T itself, or f32 for a
// bf16 call whose tiles are widened.
template <class T, class F> auto with_tile_type(const FlashConfig& cfg, F&& f) {
  if constexpr (std::is_same_v<T, bf16>) {
    if (!bf16_products(cfg))
      return f.template operator()<float>();
  }
  return f.template operator()<T>();
}

// ------------------------------------------------------------------ workspace
// Carves 64-byte aligned arrays out of one buffer; with a null base it only counts the bytes,
// so a kernel's workspace function and its allocation are the same code.
class Carver {
public:
  explicit Carver(std::byte* base) : base_(base) {}
  template <class U> U* take(int64_t n) {
    U* r = base_ ? reinterpret_cast<U*>(base_ + used_) : nullptr;
    used_ += (size_t(n) * sizeof(U) + 63) / 64 * 64;
    return r;
  }
  size_t used() const { return used_; }

private:
  std::byte* base_;
  size_t used_ = 0;
};

// A 64-byte aligned byte buffer owned by one thread for one call.
class AlignedBuffer {
public:
  explicit AlignedBuffer(size_t bytes) : raw_(bytes + 64) {}
  std::byte* data() {
    const auto a = reinterpret_cast<uintptr_t>(raw_.data());
    return raw_.data() + ((64 - a % 64) % 64);
  }

private:
  std::vector<std::byte> raw_;
};

// ------------------------------------------------------------------ packing
// Rows [t0, t0 + n) of head `head` of a view over sample-major tokens -> dense [n, hd] of the
// tile type C (T itself, or f32 for widened bf16).
template <class T, class C>
void pack_rows(const HeadView<const T>& v, int64_t t0, int64_t head, int64_t n, int64_t hd, C* dst);
// Dense [n, hd] (accumulation type) -> rows of a view, rounded to T.
template <class T>
void unpack_rows(const acc_t<T>* src, int64_t n, int64_t hd, const HeadView<T>& v, int64_t t0, int64_t head);

// ------------------------------------------------------------------ products
// C[M,N] = alpha op(A) op(B) (+ C when accumulate), dense row-major tiles with leading
// dimensions; NT: B stored [N,K]; TN: A stored [K,M]. f32 and bf16 run cached oneDNN matmuls
// (f32 accumulation), f64 plain loops.
enum class Op { NN, NT, TN };
template <class T>
void tile_gemm(Op op, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
               acc_t<T>* C, int64_t ldc, acc_t<T> alpha, bool accumulate);

// The first product of a tile: s [rows, ld] = q k^T / sqrt(hd), q [rows, hd], k [cols, hd].
template <class T>
void score_tile(const T* q, const T* k, int64_t rows, int64_t cols, int64_t hd, acc_t<T>* s, int64_t ld) {
  tile_gemm<T>(Op::NT, rows, cols, hd, q, hd, k, hd, s, ld, acc_t<T>(1.0 / std::sqrt(double(hd))), false);
}

// ------------------------------------------------------------------ softmax rows
// The bf16 kernels multiply the probabilities (and their gradient) as bf16: each row operation
// below also writes its result rounded to bf16 into b16 [rows, ld] when b16 is not null, in the
// same pass. f32 and f64 kernels pass null.

// One tile of scores s [rows, ld] in place -> unnormalised probabilities exp(s - m_new)
// (0 for masked columns); m (running max) and l (running sum) updated; corr[r] =
// exp(m_old - m_new) is the factor the row's output accumulator must be scaled by.
void online_softmax_tile(float* s, int64_t rows, int64_t ld, const TileMask& mask, float* m, float* l,
                         float* corr, bf16* p16);
void online_softmax_tile(double* s, int64_t rows, int64_t ld, const TileMask& mask, double* m, double* l,
                         double* corr, bf16* p16);

// s [rows, ld] in place -> p = exp(s - lse[r]) (0 for masked columns).
void probs_from_lse(float* s, int64_t rows, int64_t ld, const TileMask& mask, const float* lse, bf16* p16);
void probs_from_lse(double* s, int64_t rows, int64_t ld, const TileMask& mask, const double* lse, bf16* p16);

// ds = p * (dp - D[r]) over the first cols columns, into dp.
void softmax_grad_tile(const float* p, float* dp, int64_t rows, int64_t cols, int64_t ld, const float* D,
                       bf16* ds16);
void softmax_grad_tile(const double* p, double* dp, int64_t rows, int64_t cols, int64_t ld, const double* D,
                       bf16* ds16);

// dst[i] = src[i] * scale, rounded to the destination type (a result row written out).
void store_row(const float* src, float scale, int64_t n, float* dst);
void store_row(const float* src, float scale, int64_t n, bf16* dst);
void store_row(const double* src, double scale, int64_t n, double* dst);
// dst[i] = src[i] widened to f32 (exact).
void widen_row(const bf16* src, int64_t n, float* dst);

// The bf16 staging tile of a kernel (null unless T is bf16), and the input of the second
// product of a pair: the staged bf16 tile or the accumulation-type tile itself.
template <class T> bf16* staging(T* tile) {
  if constexpr (std::is_same_v<T, bf16>)
    return tile;
  else
    return nullptr;
}
template <class T> const T* tile_input(const acc_t<T>* tile, const T* staged) {
  if constexpr (std::is_same_v<T, bf16>)
    return staged;
  else
    return tile;
}

} // namespace glm3d::cpu::flash
