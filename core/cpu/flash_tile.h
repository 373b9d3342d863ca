#pragma once
// Internal to the flash attention kernels: the mask arithmetic, dense tiles (packing, the
// tile products, the softmax row operations) shared by forward and backward.
#include "core/cpu/flash_attention.h"

#include <algorithm>
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
// Rows [t0, t0 + n) of head `head` of a view over sample-major tokens -> dense [n, hd].
template <class T>
void pack_rows(const HeadView<const T>& v, int64_t t0, int64_t head, int64_t n, int64_t hd, T* dst);
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

// The first product of a tile: packs keys and values [j0, j0 + cols) of group g of the sample
// starting at token t0 into k, v [cols, hd], and s [rows, ld] = q k^T / sqrt(hd) (q [rows, hd]).
template <class T>
void score_tile(const QkvView<const T>& x, int64_t t0, int64_t g, int64_t j0, int64_t rows, int64_t cols,
                int64_t hd, const T* q, T* k, T* v, acc_t<T>* s, int64_t ld);

// ------------------------------------------------------------------ softmax rows
// One tile of scores s [rows, ld] in place -> unnormalised probabilities exp(s - m_new)
// (0 for masked columns); m (running max) and l (running sum) updated; corr[r] =
// exp(m_old - m_new) is the factor the row's output accumulator must be scaled by.
void online_softmax_tile(float* s, int64_t rows, int64_t ld, const TileMask& mask, float* m, float* l,
                         float* corr);
void online_softmax_tile(double* s, int64_t rows, int64_t ld, const TileMask& mask, double* m, double* l,
                         double* corr);

// s [rows, ld] in place -> p = exp(s - lse[r]) (0 for masked columns).
void probs_from_lse(float* s, int64_t rows, int64_t ld, const TileMask& mask, const float* lse);
void probs_from_lse(double* s, int64_t rows, int64_t ld, const TileMask& mask, const double* lse);

// dp [rows, ld] in place -> ds = p * (dp - D[r]) over the first cols columns.
void softmax_grad_tile(const float* p, float* dp, int64_t rows, int64_t cols, int64_t ld, const float* D);
void softmax_grad_tile(const double* p, double* dp, int64_t rows, int64_t cols, int64_t ld, const double* D);

// The first cols columns of x [rows, ld] rounded to bf16 into y [rows, ld].
void round_tile_bf16(const float* x, bf16* y, int64_t rows, int64_t cols, int64_t ld);

// Input of the second product of a pair: the probabilities (or their gradient) as the tile
// type; f32 and f64 use the tile itself, bf16 rounds it into `staged`.
template <class T>
const T* as_tile_input(const acc_t<T>* x, T* staged, int64_t rows, int64_t cols, int64_t ld) {
  if constexpr (std::is_same_v<T, bf16>) {
    round_tile_bf16(x, staged, rows, cols, ld);
    return staged;
  } else {
    (void)staged, (void)rows, (void)cols, (void)ld;
    return x;
  }
}

} // namespace glm3d::cpu::flash
