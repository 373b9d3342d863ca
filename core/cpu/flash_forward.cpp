// Flash attention forward: one task per (sample, query head, query block); each walks the key
// blocks it can see, keeping a running max m, sum l and output accumulator o per query row.
#include "core/check.h"
#include "core/cpu/flash_attention.h"
#include "core/cpu/flash_tile.h"

#include <cmath>
#include <limits>

namespace glm3d::cpu {
namespace {

using namespace flash;

// The per-thread tiles of the forward, carved from one buffer; C is the tile type (T, or f32
// for a bf16 call whose tiles are widened).
template <class C> struct ForwardTiles {
  using A = acc_t<C>;
  C *q, *k, *v; // [bq, hd], [bkv, hd], [bkv, hd]
  C* p16;       // [bq, bkv] probabilities rounded to bf16 (bf16 tiles only)
  A *s, *o;     // scores / probabilities [bq, bkv], output accumulator [bq, hd]
  A *m, *l, *corr;
  ForwardTiles(Carver& c, FlashBlocks bl, int64_t hd)
      : q(c.take<C>(bl.q * hd)), k(c.take<C>(bl.kv * hd)), v(c.take<C>(bl.kv * hd)),
        p16(c.take<C>(std::is_same_v<C, bf16> ? bl.q * bl.kv : 0)), s(c.take<A>(bl.q * bl.kv)),
        o(c.take<A>(bl.q * hd)), m(c.take<A>(bl.q)), l(c.take<A>(bl.q)), corr(c.take<A>(bl.q)) {}
};

// Queries: Sq per sample, query r at key position q_off + r (q_off = S - Sq: the last Sq of the
// S keys); q, out and lse are indexed by (b * Sq + r). lse may be null (cached attention).
template <class T> struct ForwardArgs {
  const QkvView<const T>& x;
  const int32_t* sep;
  T* out;
  acc_t<T>* lse;
  const FlashShape& sh;
  FlashBlocks bl;
  int64_t Sq, q_off;
};

// Rows [i0, i0 + rows) of head h of sample b; returns the number of tiles computed.
template <class T, class C>
int64_t forward_query_block(const ForwardArgs<T>& a, int64_t b, int64_t h, int64_t i0, ForwardTiles<C>& t) {
  using A = acc_t<T>;
  const FlashShape& sh = a.sh;
  const int64_t S = sh.S, hd = sh.hd, ld = a.bl.kv, g = h / (sh.nh / sh.ng), t0 = b * S, q0 = b * a.Sq;
  const int64_t rows = std::min(a.bl.q, a.Sq - i0), sep = clamp_sep(a.sep, b, S), p0 = a.q_off + i0;
  pack_rows(a.x.q, q0 + i0, h, rows, hd, t.q);
  std::fill(t.m, t.m + rows, -std::numeric_limits<A>::infinity());
  std::fill(t.l, t.l + rows, A(0));
  std::fill(t.o, t.o + rows * hd, A(0));
  const int64_t end = keys_needed(sep, p0 + rows, S);
  int64_t tiles = 0;
  for (int64_t j0 = 0; j0 < end; j0 += a.bl.kv, ++tiles) {
    const int64_t cols = std::min(a.bl.kv, S - j0);
    pack_rows(a.x.k, t0 + j0, g, cols, hd, t.k);
    pack_rows(a.x.v, t0 + j0, g, cols, hd, t.v);
    score_tile(t.q, t.k, rows, cols, hd, t.s, ld);
    online_softmax_tile(t.s, rows, ld, {sep, p0, j0, cols}, t.m, t.l, t.corr, staging<C>(t.p16));
    for (int64_t r = 0; r < rows; ++r) {
      A* o = t.o + r * hd;
      const A c = t.corr[r];
#pragma omp simd
      for (int64_t d = 0; d < hd; ++d)
        o[d] *= c;
    }
    const C* p = tile_input<C>(t.s, t.p16);
    tile_gemm<C>(Op::NN, rows, hd, cols, p, ld, t.v, hd, t.o, hd, A(1), true); // o += p v
  }
  for (int64_t r = 0; r < rows; ++r) {
    store_row(t.o + r * hd, A(1) / t.l[r], hd, a.out + ((q0 + i0 + r) * sh.nh + h) * hd);
    if (a.lse)
      a.lse[(b * sh.nh + h) * a.Sq + i0 + r] = t.m[r] + std::log(t.l[r]);
  }
  return tiles;
}

template <class T, class C> int64_t forward(const ForwardArgs<T>& a, const FlashConfig& cfg) {
  const FlashShape& sh = a.sh;
  const int64_t nqb = ceil_div(a.Sq, cfg.fwd.q), ntasks = sh.B * sh.nh * nqb;
  const size_t bytes = flash_forward_workspace<T>(sh, cfg).per_thread;
  int64_t tiles = 0;
#pragma omp parallel reduction(+ : tiles)
  {
    AlignedBuffer buf(bytes);
    Carver c(buf.data());
    ForwardTiles<C> t(c, cfg.fwd, sh.hd);
    // Later query blocks see more keys: they go first, so the dynamic schedule ends balanced.
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < ntasks; ++task) {
      const int64_t qb = nqb - 1 - task % nqb, bh = task / nqb;
      tiles += forward_query_block<T, C>(a, bh / sh.nh, bh % sh.nh, qb * cfg.fwd.q, t);
    }
  }
  return tiles;
}

} // namespace

template <class T> FlashWorkspace flash_forward_workspace(const FlashShape& shape, const FlashConfig& cfg) {
  return with_tile_type<T>(cfg, [&]<class C>() {
    Carver c(nullptr);
    ForwardTiles<C> tiles(c, cfg.fwd, shape.hd);
    return FlashWorkspace{c.used(), 0};
  });
}

template <class T>
int64_t flash_attention_forward(const QkvView<const T>& x, const int32_t* sep, T* out, flash_acc_t<T>* lse,
                                const FlashShape& sh, const FlashConfig& cfg) {
  check_shape(sh, cfg);
  const ForwardArgs<T> a{x, sep, out, lse, sh, cfg.fwd, sh.S, 0};
  return with_tile_type<T>(cfg, [&]<class C>() { return forward<T, C>(a, cfg); });
}

template <class T>
int64_t flash_attention_cached(const QkvView<const T>& x, const int32_t* sep, T* out, const FlashShape& sh,
                               int64_t Sq, const FlashConfig& cfg) {
  check_shape(sh, cfg);
  GLM3D_CHECK(Sq >= 0 && Sq <= sh.S) << "flash attention over a cache: " << Sq << " queries, " << sh.S
                                     << " keys";
  const ForwardArgs<T> a{x, sep, out, nullptr, sh, cfg.fwd, Sq, sh.S - Sq};
  return with_tile_type<T>(cfg, [&]<class C>() { return forward<T, C>(a, cfg); });
}

#define GLM3D_FLASH_FORWARD(T)                                                                               \
  template FlashWorkspace flash_forward_workspace<T>(const FlashShape&, const FlashConfig&);                 \
  template int64_t flash_attention_forward<T>(const QkvView<const T>&, const int32_t*, T*, flash_acc_t<T>*,  \
                                              const FlashShape&, const FlashConfig&);                        \
  template int64_t flash_attention_cached<T>(const QkvView<const T>&, const int32_t*, T*, const FlashShape&, \
                                             int64_t, const FlashConfig&);
GLM3D_FLASH_FORWARD(double)
GLM3D_FLASH_FORWARD(float)
GLM3D_FLASH_FORWARD(bf16)
#undef GLM3D_FLASH_FORWARD

} // namespace glm3d::cpu
