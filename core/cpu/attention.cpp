#include "core/cpu/attention.h"

#include "core/cpu/fast_math.h"

#include "core/cpu/onednn.h"
#include "core/cpu/simd_clones.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace glm3d::cpu {
namespace {

// Number of keys query i may see: keys [0, sep) are visible to all, and key j <= i is
// visible causally, so the visible set is the prefix [0, max(sep, i + 1)).
inline int64_t visible_keys(int64_t sep, int64_t i) {
  return std::max(sep, i + 1);
}

template <class T> inline T dot(const T* a, const T* b, int64_t n) {
  return lane_sum<T>(0, n, [&](int64_t d) GLM3D_INLINE { return a[d] * b[d]; });
}

template <class T> inline void axpy(T alpha, const T* x, T* y, int64_t n) {
#pragma omp simd
  for (int64_t d = 0; d < n; ++d)
    y[d] += alpha * x[d];
}

// ------------------------------------------------------------------ loops (f64)
// The reference path (used for f64, which oneDNN does not multiply): parallel over
// (batch, head); only visible (i, j) pairs are computed. Each thread first gathers K and V of its head into
// contiguous [S, hd] buffers (in qkv consecutive tokens are nh*3*hd apart), so the S x S loops stream through
// contiguous memory. Buffers are allocated once per thread per call.
template <class T>
void attention_forward_loops(const T* qkv, const int32_t* sep, T* out, T* probs, int64_t B, int64_t S,
                             int64_t nh, int64_t hd) {
  const T scale = T(1.0 / std::sqrt(double(hd)));
  const int64_t tok = nh * 3 * hd; // qkv stride between tokens
#pragma omp parallel
  {
    std::vector<T> K(static_cast<size_t>(S * hd)), V(static_cast<size_t>(S * hd));
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t h = 0; h < nh; ++h) {
        const T* base = qkv + b * S * tok + h * 3 * hd;
        for (int64_t j = 0; j < S; ++j) {
          std::copy_n(base + j * tok + hd, hd, K.data() + j * hd);
          std::copy_n(base + j * tok + 2 * hd, hd, V.data() + j * hd);
        }
        const int64_t sp = std::clamp<int64_t>(sep[b], 0, S);
        T* P = probs + (b * nh + h) * S * S; // [S, S]
        for (int64_t i = 0; i < S; ++i) {
          const int64_t L = visible_keys(sp, i);
          const T* q = base + i * tok;
          T* p = P + i * S;
          T mx = -std::numeric_limits<T>::infinity();
          for (int64_t j = 0; j < L; ++j) {
            p[j] = dot(q, K.data() + j * hd, hd) * scale;
            mx = std::max(mx, p[j]);
          }
          T sum = 0;
          for (int64_t j = 0; j < L; ++j) {
            p[j] = std::exp(p[j] - mx);
            sum += p[j];
          }
          const T inv = T(1) / sum;
          for (int64_t j = 0; j < L; ++j)
            p[j] *= inv;
          std::fill(p + L, p + S, T(0));
          T* o = out + ((b * S + i) * nh + h) * hd; // [hd]
          std::fill(o, o + hd, T(0));
          for (int64_t j = 0; j < L; ++j)
            axpy(p[j], V.data() + j * hd, o, hd);
        }
      }
    }
  }
}

// With s = scale q·k, p = softmax(s), o = sum_j p_j v_j:
//   dv_j += p_ij do_i;  dp_ij = do_i·v_j;  ds_ij = p_ij (dp_ij - sum_j' p_ij' dp_ij');
//   dq_i = scale sum_j ds_ij k_j;  dk_j += scale ds_ij q_i.
template <class T>
void attention_backward_loops(const T* dout, const T* qkv, const T* probs, const int32_t* sep, T* dqkv,
                              int64_t B, int64_t S, int64_t nh, int64_t hd) {
  const T scale = T(1.0 / std::sqrt(double(hd)));
  const int64_t tok = nh * 3 * hd;
#pragma omp parallel
  {
    std::vector<T> Q(static_cast<size_t>(S * hd)), K(static_cast<size_t>(S * hd)),
        V(static_cast<size_t>(S * hd));
    const size_t block = size_t(S * hd);
    std::vector<T> dQ(block), dK(block), dV(block), dp(static_cast<size_t>(S));
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t h = 0; h < nh; ++h) {
        const T* base = qkv + b * S * tok + h * 3 * hd;
        for (int64_t j = 0; j < S; ++j) {
          std::copy_n(base + j * tok, hd, Q.data() + j * hd);
          std::copy_n(base + j * tok + hd, hd, K.data() + j * hd);
          std::copy_n(base + j * tok + 2 * hd, hd, V.data() + j * hd);
        }
        std::fill(dQ.begin(), dQ.end(), T(0));
        std::fill(dK.begin(), dK.end(), T(0));
        std::fill(dV.begin(), dV.end(), T(0));
        const int64_t sp = std::clamp<int64_t>(sep[b], 0, S);
        const T* P = probs + (b * nh + h) * S * S;
        for (int64_t i = 0; i < S; ++i) {
          const int64_t L = visible_keys(sp, i);
          const T* p = P + i * S;
          const T* g = dout + ((b * S + i) * nh + h) * hd; // d out_i [hd]
          T pdp = 0;
          for (int64_t j = 0; j < L; ++j) {
            dp[j] = dot(g, V.data() + j * hd, hd);
            pdp += p[j] * dp[j];
            axpy(p[j], g, dV.data() + j * hd, hd);
          }
          const T* q = Q.data() + i * hd;
          T* dq = dQ.data() + i * hd;
          for (int64_t j = 0; j < L; ++j) {
            const T ds = p[j] * (dp[j] - pdp) * scale;
            axpy(ds, K.data() + j * hd, dq, hd);
            axpy(ds, q, dK.data() + j * hd, hd);
          }
        }
        T* dbase = dqkv + b * S * tok + h * 3 * hd;
        for (int64_t j = 0; j < S; ++j) {
          std::copy_n(dQ.data() + j * hd, hd, dbase + j * tok);
          std::copy_n(dK.data() + j * hd, hd, dbase + j * tok + hd);
          std::copy_n(dV.data() + j * hd, hd, dbase + j * tok + 2 * hd);
        }
      }
    }
  }
}

// ------------------------------------------------------------------ oneDNN (f32)
// The f32 path runs the S x S products of a head group as batched oneDNN matmuls over
// strided views of qkv / out / dqkv (no gathers), and the masked softmax and its backward as
// OpenMP loops over rows. Queries go in row blocks of kRowBlock; a block multiplies only the
// keys any of its queries can see, [0, max(sep, i1)) rounded up to a whole block so the number
// of distinct shapes (cached primitives) stays S / kRowBlock. Probabilities of masked keys are
// exact zeros, so the extra keys of a rounded-up block contribute nothing.
constexpr int64_t kRowBlock = 256;

struct RowBlock {
  int64_t i0, rows, keys; // queries [i0, i0 + rows) see at most keys [0, keys)
};

std::vector<RowBlock> row_blocks(int64_t S, int64_t sep) {
  std::vector<RowBlock> blocks;
  for (int64_t i0 = 0; i0 < S; i0 += kRowBlock) {
    const int64_t i1 = std::min(S, i0 + kRowBlock);
    const int64_t keys = std::min(S, (visible_keys(sep, i1 - 1) + kRowBlock - 1) / kRowBlock * kRowBlock);
    blocks.push_back({i0, i1 - i0, keys});
  }
  return blocks;
}

// Softmax of each row of scores in place; keys j >= max(sep, i + 1) (never read: a block may
// not have computed them) are set to 0.
void masked_softmax_rows(float* P, int64_t heads, int64_t S, int64_t sep) {
  parallel_rows(heads * S, [=](int64_t r) GLM3D_INLINE {
    const int64_t i = r % S, L = visible_keys(sep, i);
    float* p = P + r * S;
    const float mx = lane_max(p, 0, L, -std::numeric_limits<float>::infinity());
    const float sum = lane_sum<float>(0, L, [&](int64_t j) GLM3D_INLINE {
      p[j] = exp_f32(p[j] - mx); // vectorised (core/cpu/fast_math.h)
      return p[j];
    });
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < L; ++j)
      p[j] *= inv;
    std::fill(p + L, p + S, 0.0f);
  });
}

// dS = scale * P * (dP - rowsum(P * dP)) in place over dP for the rows of one block; entries
// of masked keys (not computed by the block's dP product) are set to 0.
void softmax_backward_rows(const float* P, float* dP, int64_t heads, int64_t S, const RowBlock& blk,
                           int64_t sep, float scale) {
  parallel_rows(heads * blk.rows, [=](int64_t r) GLM3D_INLINE {
    const int64_t h = r / blk.rows, i = blk.i0 + r % blk.rows, L = visible_keys(sep, i);
    const float* p = P + (h * S + i) * S;
    float* d = dP + (h * S + i) * S;
    const float dot = lane_sum<float>(0, L, [&](int64_t j) GLM3D_INLINE { return p[j] * d[j]; });
#pragma omp simd
    for (int64_t j = 0; j < L; ++j)
      d[j] = scale * p[j] * (d[j] - dot);
    std::fill(d + L, d + blk.keys, 0.0f);
  });
}

// Strides (batch = head, row, col) in elements of the per-head views of one sample.
struct Strides {
  int64_t head, row, col;
};

struct HeadViews {
  int64_t S, nh, hd, tok;
  // q, k or v [S, hd] of each head inside qkv [S, nh, 3, hd], and the transpose
  Strides x() const { return {3 * hd, tok, 1}; }
  Strides xT() const { return {3 * hd, 1, tok}; }
  // out / dout [S, nh, hd] viewed per head
  Strides o() const { return {hd, nh * hd, 1}; }
  // probabilities [heads, S, S] and the transpose
  Strides p() const { return {S * S, S, 1}; }
  Strides pT() const { return {S * S, 1, S}; }
};

// C (+)= alpha A B over `heads` batched [M,K] x [K,N] products.
void head_matmul(int64_t heads, int64_t M, int64_t N, int64_t K, const float* A, Strides a, const float* B,
                 Strides b, float* C, Strides c, float alpha, bool accumulate = false) {
  const detail::MatmulLayout l{
      heads, M, N, K, {a.head, a.row, a.col}, {b.head, b.row, b.col}, {c.head, c.row, c.col}};
  detail::strided_matmul_f32(l, A, B, C, alpha, accumulate);
}

void attention_forward_onednn(const float* qkv, const int32_t* sep, float* out, float* probs, int64_t B,
                              int64_t S, int64_t nh, int64_t hd) {
  const float scale = float(1.0 / std::sqrt(double(hd)));
  const HeadViews v{S, nh, hd, nh * 3 * hd};
  for (int64_t b = 0; b < B; ++b) {
    const int64_t sp = std::clamp<int64_t>(sep[b], 0, S);
    const float* q = qkv + b * S * v.tok; // head h at + h * 3 hd
    float* P = probs + b * nh * S * S;    // [nh, S, S]
    float* o = out + b * S * nh * hd;     // [S, nh, hd]
    const auto blocks = row_blocks(S, sp);
    for (const RowBlock& k : blocks) // scores = scale Q K^T
      head_matmul(nh, k.rows, k.keys, hd, q + k.i0 * v.tok, v.x(), q + hd, v.xT(), P + k.i0 * S, v.p(),
                  scale);
    masked_softmax_rows(P, nh, S, sp);
    for (const RowBlock& k : blocks) // out = P V
      head_matmul(nh, k.rows, hd, k.keys, P + k.i0 * S, v.p(), q + 2 * hd, v.x(), o + k.i0 * nh * hd, v.o(),
                  1.0f);
  }
}

// dP is staged in a per-thread buffer of at most kStageFloats, so heads are processed in
// groups of `hg` (the buffer is reused across calls: no per-call allocation once grown).
// Blocks run from the last (which sees all S keys and so overwrites every row of dK and dV)
// to the first, the others accumulating into dK and dV.
void attention_backward_onednn(const float* dout, const float* qkv, const float* probs, const int32_t* sep,
                               float* dqkv, int64_t B, int64_t S, int64_t nh, int64_t hd) {
  constexpr int64_t kStageFloats = int64_t(1) << 24; // 64 MiB
  const float scale = float(1.0 / std::sqrt(double(hd)));
  const HeadViews v{S, nh, hd, nh * 3 * hd};
  const int64_t hg = std::clamp<int64_t>(kStageFloats / (S * S), 1, nh);
  thread_local std::vector<float> stage;
  if (stage.size() < size_t(hg * S * S))
    stage.resize(size_t(hg * S * S));
  float* dP = stage.data(); // [hg, S, S]
  for (int64_t b = 0; b < B; ++b) {
    const int64_t sp = std::clamp<int64_t>(sep[b], 0, S);
    auto blocks = row_blocks(S, sp);
    std::reverse(blocks.begin(), blocks.end());
    for (int64_t h0 = 0; h0 < nh; h0 += hg) {
      const int64_t n = std::min(hg, nh - h0);
      const float* q = qkv + b * S * v.tok + h0 * 3 * hd;
      float* dq = dqkv + b * S * v.tok + h0 * 3 * hd;
      const float* dO = dout + b * S * nh * hd + h0 * hd;
      const float* P = probs + (b * nh + h0) * S * S;
      for (const RowBlock& k : blocks) {
        const bool acc = &k != &blocks.front(); // the first (last) block overwrites
        const int64_t r0 = k.i0;
        // dP = dO V^T, then dS in place
        head_matmul(n, k.rows, k.keys, hd, dO + r0 * nh * hd, v.o(), q + 2 * hd, v.xT(), dP + r0 * S, v.p(),
                    1.0f);
        softmax_backward_rows(P, dP, n, S, k, sp, scale);
        // dV[:keys] (+)= P^T dO;  dK[:keys] (+)= dS^T Q;  dQ[rows] = dS K[:keys]
        head_matmul(n, k.keys, hd, k.rows, P + r0 * S, v.pT(), dO + r0 * nh * hd, v.o(), dq + 2 * hd, v.x(),
                    1.0f, acc);
        head_matmul(n, k.keys, hd, k.rows, dP + r0 * S, v.pT(), q + r0 * v.tok, v.x(), dq + hd, v.x(), 1.0f,
                    acc);
        head_matmul(n, k.rows, hd, k.keys, dP + r0 * S, v.p(), q + hd, v.x(), dq + r0 * v.tok, v.x(), 1.0f);
      }
    }
  }
}

} // namespace

template <class T>
void glm_attention_forward(const T* qkv, const int32_t* sep, T* out, T* probs, int64_t B, int64_t S,
                           int64_t nh, int64_t hd) {
  if (B == 0 || S == 0 || nh == 0)
    return;
  if constexpr (std::is_same_v<T, float>)
    attention_forward_onednn(qkv, sep, out, probs, B, S, nh, hd);
  else
    attention_forward_loops(qkv, sep, out, probs, B, S, nh, hd);
}

template <class T>
void glm_attention_backward(const T* dout, const T* qkv, const T* probs, const int32_t* sep, T* dqkv,
                            int64_t B, int64_t S, int64_t nh, int64_t hd) {
  if (B == 0 || S == 0 || nh == 0)
    return;
  if constexpr (std::is_same_v<T, float>)
    attention_backward_onednn(dout, qkv, probs, sep, dqkv, B, S, nh, hd);
  else
    attention_backward_loops(dout, qkv, probs, sep, dqkv, B, S, nh, hd);
}

template void glm_attention_forward<float>(const float*, const int32_t*, float*, float*, int64_t, int64_t,
                                           int64_t, int64_t);
template void glm_attention_forward<double>(const double*, const int32_t*, double*, double*, int64_t, int64_t,
                                            int64_t, int64_t);
template void glm_attention_backward<float>(const float*, const float*, const float*, const int32_t*, float*,
                                            int64_t, int64_t, int64_t, int64_t);
template void glm_attention_backward<double>(const double*, const double*, const double*, const int32_t*,
                                             double*, int64_t, int64_t, int64_t, int64_t);

} // namespace glm3d::cpu
