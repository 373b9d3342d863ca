// Flash attention backward (FlashAttention-2): one task per (sample, kv group, part of the
// group's query heads). For each query block the task recomputes p = exp(s - lse) tile by tile
// against the key blocks the block sees, and
//   dv_j += p^T do_i;  dp = do_i v_j^T;  ds = p (dp - D_i), D_i = rowsum(do_i * o_i);
//   dk_j += ds^T q_i / sqrt(hd);  dq_i += ds k_j / sqrt(hd).
// dq of a query block is complete after its key loop and written at once; dk, dv of the group
// are summed over the task's heads in accumulators of [S, hd]. With several parts per group
// each part sums into its own slot and the slots are added in part order at the end, so the
// result does not depend on the schedule.
#include "core/cpu/flash_attention.h"
#include "core/cpu/flash_tile.h"

#include <cmath>
#include <omp.h>

namespace glm3d::cpu {
namespace {

using namespace flash;

// The per-thread tiles of the backward, carved from one buffer; C is the tile type (T, or f32
// for a bf16 call whose tiles are widened).
template <class C> struct BackwardTiles {
  using A = acc_t<C>;
  C *q, *dout, *k, *v; // [bq, hd], [bq, hd], and the group's keys and values [S, hd] each
  C *p16, *ds16;       // [bq, bkv] rounded to bf16 (bf16 tiles only)
  A *s, *dp, *dq, *D;  // p [bq, bkv], dp / ds [bq, bkv], dq [bq, hd], D [bq]
  A *dk, *dv;          // [S, hd] each, when the task owns its group (one part)
  BackwardTiles(Carver& c, FlashBlocks bl, int64_t S, int64_t hd, bool own_dkv)
      : q(c.take<C>(bl.q * hd)), dout(c.take<C>(bl.q * hd)), k(c.take<C>(S * hd)), v(c.take<C>(S * hd)),
        p16(c.take<C>(std::is_same_v<C, bf16> ? bl.q * bl.kv : 0)),
        ds16(c.take<C>(std::is_same_v<C, bf16> ? bl.q * bl.kv : 0)), s(c.take<A>(bl.q * bl.kv)),
        dp(c.take<A>(bl.q * bl.kv)), dq(c.take<A>(bl.q * hd)), D(c.take<A>(bl.q)),
        dk(c.take<A>(own_dkv ? S * hd : 0)), dv(c.take<A>(own_dkv ? S * hd : 0)) {}
};

template <class T> struct BackwardArgs {
  const T* dout;
  const QkvView<const T>& x;
  const T* out;
  const acc_t<T>* lse;
  const int32_t* sep;
  const QkvView<T>& grad;
  const FlashShape& sh;
  FlashBlocks bl;
};

int64_t head_parts(const FlashShape& sh, const FlashConfig& cfg, int threads) {
  const int64_t groups = sh.B * sh.ng, hpg = sh.nh / sh.ng;
  if (cfg.bwd_head_parts > 0)
    return std::min(cfg.bwd_head_parts, hpg);
  return groups == 0 || groups >= threads ? 1 : std::min(hpg, ceil_div(2 * int64_t(threads), groups));
}

// Query rows [i0, i0 + rows) of head h against every key block they see: dq of the rows
// written, dk and dv [S, hd] of the group accumulated; the group's keys and values are already
// packed in t.k, t.v. Returns the number of tiles computed.
template <class T, class C>
int64_t backward_query_block(const BackwardArgs<T>& a, int64_t b, int64_t h, int64_t i0, BackwardTiles<C>& t,
                             acc_t<T>* dk, acc_t<T>* dv) {
  using A = acc_t<T>;
  const FlashShape& sh = a.sh;
  const int64_t S = sh.S, hd = sh.hd, ld = a.bl.kv, t0 = b * S;
  const int64_t rows = std::min(a.bl.q, S - i0), sep = clamp_sep(a.sep, b, S);
  const A scale = A(1.0 / std::sqrt(double(hd)));
  const HeadView<const T> dout{a.dout, sh.nh * hd, hd}, out{a.out, sh.nh * hd, hd}; // [B, S, nh, hd]
  pack_rows(a.x.q, t0 + i0, h, rows, hd, t.q);
  pack_rows(dout, t0 + i0, h, rows, hd, t.dout);
  for (int64_t r = 0; r < rows; ++r) {
    const T* o = out.at(t0 + i0 + r, h);
    A D = 0;
    for (int64_t d = 0; d < hd; ++d)
      D += A(t.dout[r * hd + d]) * A(o[d]);
    t.D[r] = D;
  }
  const A* lse = a.lse + (b * sh.nh + h) * S + i0; // [rows]
  std::fill(t.dq, t.dq + rows * hd, A(0));
  const int64_t end = keys_needed(sep, i0 + rows, S);
  int64_t tiles = 0;
  for (int64_t j0 = 0; j0 < end; j0 += a.bl.kv, ++tiles) {
    const int64_t cols = std::min(a.bl.kv, S - j0);
    const C* k = t.k + j0 * hd;
    const C* v = t.v + j0 * hd; // [cols, hd] each
    score_tile(t.q, k, rows, cols, hd, t.s, ld);
    probs_from_lse(t.s, rows, ld, {sep, i0, j0, cols}, lse, staging<C>(t.p16));
    tile_gemm<C>(Op::NT, rows, cols, hd, t.dout, hd, v, hd, t.dp, ld, A(1), false); // dp = do v^T
    softmax_grad_tile(t.s, t.dp, rows, cols, ld, t.D, staging<C>(t.ds16));          // ds in dp (and ds16)
    const C* p = tile_input<C>(t.s, t.p16);
    const C* ds = tile_input<C>(t.dp, t.ds16);
    tile_gemm<C>(Op::TN, cols, hd, rows, p, ld, t.dout, hd, dv + j0 * hd, hd, A(1), true); // dv += p^T do
    tile_gemm<C>(Op::TN, cols, hd, rows, ds, ld, t.q, hd, dk + j0 * hd, hd, scale, true);  // dk += ds^T q
    tile_gemm<C>(Op::NN, rows, hd, cols, ds, ld, k, hd, t.dq, hd, scale, true);            // dq += ds k
  }
  unpack_rows(t.dq, rows, hd, a.grad.q, t0 + i0, h);
  return tiles;
}

// dk, dv [B, S, ng, hd] of the views = the sum over parts of slots [B, ng, parts, 2, S, hd].
template <class T>
void add_part_slots(const acc_t<T>* slots, int64_t parts, const FlashShape& sh, const QkvView<T>& grad) {
  const int64_t S = sh.S, hd = sh.hd;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < sh.B * sh.ng * S; ++row) {
    const int64_t s = row % S, bg = row / S, b = bg / sh.ng, g = bg % sh.ng;
    for (int which = 0; which < 2; ++which) {
      T* dst = (which == 0 ? grad.k : grad.v).at(b * S + s, g);
      for (int64_t d = 0; d < hd; ++d) {
        acc_t<T> sum = 0;
        for (int64_t p = 0; p < parts; ++p)
          sum += slots[((bg * parts + p) * 2 + which) * S * hd + s * hd + d];
        dst[d] = T(sum);
      }
    }
  }
}

template <class T, class C>
int64_t backward(const BackwardArgs<T>& a, const FlashConfig& cfg, int threads, int64_t parts) {
  using A = acc_t<T>;
  const FlashShape& sh = a.sh;
  const int64_t hpg = sh.nh / sh.ng, S = sh.S, hd = sh.hd, ntasks = sh.B * sh.ng * parts;
  const FlashWorkspace ws = flash_backward_workspace<T>(sh, cfg, threads);
  std::vector<A> slots(ws.shared / sizeof(A));
  int64_t tiles = 0;
#pragma omp parallel num_threads(threads) reduction(+ : tiles)
  {
    AlignedBuffer buf(ws.per_thread);
    Carver c(buf.data());
    BackwardTiles<C> t(c, cfg.bwd, S, hd, parts == 1);
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < ntasks; ++task) {
      const int64_t p = task % parts, bg = task / parts, b = bg / sh.ng, g = bg % sh.ng;
      A* dk = parts == 1 ? t.dk : slots.data() + (task * 2 + 0) * S * hd; // [S, hd]
      A* dv = parts == 1 ? t.dv : slots.data() + (task * 2 + 1) * S * hd;
      std::fill(dk, dk + S * hd, A(0));
      std::fill(dv, dv + S * hd, A(0));
      pack_rows(a.x.k, b * S, g, S, hd, t.k); // once per task: every head and query block reads them
      pack_rows(a.x.v, b * S, g, S, hd, t.v);
      for (int64_t h = g * hpg + p * hpg / parts; h < g * hpg + (p + 1) * hpg / parts; ++h)
        for (int64_t i0 = 0; i0 < S; i0 += cfg.bwd.q)
          tiles += backward_query_block<T, C>(a, b, h, i0, t, dk, dv);
      if (parts == 1) {
        unpack_rows(dk, S, hd, a.grad.k, b * S, g);
        unpack_rows(dv, S, hd, a.grad.v, b * S, g);
      }
    }
  }
  if (parts > 1)
    add_part_slots(slots.data(), parts, sh, a.grad);
  return tiles;
}

} // namespace

template <class T>
FlashWorkspace flash_backward_workspace(const FlashShape& shape, const FlashConfig& cfg, int threads) {
  const int64_t parts = head_parts(shape, cfg, threads);
  return with_tile_type<T>(cfg, [&]<class C>() {
    Carver c(nullptr);
    BackwardTiles<C> tiles(c, cfg.bwd, shape.S, shape.hd, parts == 1);
    const size_t slots = parts == 1 ? 0 : size_t(shape.B * shape.ng * parts * 2 * shape.S * shape.hd);
    return FlashWorkspace{c.used(), slots * sizeof(acc_t<T>)};
  });
}

template <class T>
int64_t flash_attention_backward(const T* dout, const QkvView<const T>& x, const T* out,
                                 const flash_acc_t<T>* lse, const int32_t* sep, const QkvView<T>& grad,
                                 const FlashShape& sh, const FlashConfig& cfg) {
  check_shape(sh, cfg);
  const int threads = omp_get_max_threads();
  const int64_t parts = head_parts(sh, cfg, threads);
  const BackwardArgs<T> a{dout, x, out, lse, sep, grad, sh, cfg.bwd};
  return with_tile_type<T>(cfg, [&]<class C>() { return backward<T, C>(a, cfg, threads, parts); });
}

#define GLM3D_FLASH_BACKWARD(T)                                                                              \
  template FlashWorkspace flash_backward_workspace<T>(const FlashShape&, const FlashConfig&, int);           \
  template int64_t flash_attention_backward<T>(const T*, const QkvView<const T>&, const T*,                  \
                                               const flash_acc_t<T>*, const int32_t*, const QkvView<T>&,     \
                                               const FlashShape&, const FlashConfig&);
GLM3D_FLASH_BACKWARD(double)
GLM3D_FLASH_BACKWARD(float)
GLM3D_FLASH_BACKWARD(bf16)
#undef GLM3D_FLASH_BACKWARD

} // namespace glm3d::cpu
