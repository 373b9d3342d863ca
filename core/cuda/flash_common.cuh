#pragma once
// Shared pieces of the flash-attention kernels (flash_forward.cu, flash_backward.cu):
// parameters, tile loads through cp.async (zero fill past S and past hd), and the mma.sync /
// ldmatrix building blocks with the warp-level tile products both directions use.
#include "core/cuda/flash_attention.h"
#include "core/cuda/launch.h"

#include <cuda_bf16.h>

#include <initializer_list>

namespace glm3d::cuda::flash {

using bf = __nv_bfloat16;
using launch::kBc;
using launch::kBr;
using launch::kWarps;
constexpr int kThreads = 32 * kWarps;
static_assert(kBr == kBc && kBr == 16 * kWarps, "one 16-row strip per warp, square tiles");

struct Params {
  const bf *q, *k, *v, *out, *dout;
  bf *o, *dq, *dk, *dv;
  AttnView qv, kv, ov;
  const int32_t* sep;
  float* lse;          // forward output
  const float* lse_in; // backward input
  const float* delta;  // backward: D = rowsum(dout * out) [B, nh, S]
  int64_t B, S, nh, nkv, hd;
  float scale;
};

__device__ __forceinline__ int64_t sep_of(const Params& p, int64_t b) {
  if (!p.sep)
    return 0;
  const int64_t s = p.sep[b];
  return s < 0 ? 0 : (s > p.S ? p.S : s);
}

// ---------------------------------------------------------------- mma.sync building blocks
// The fragment layouts are those the PTX ISA documents for mma.m16n8k16 with bf16 inputs
// ("Matrix Fragments for mma.m16n8k16"), with g = lane / 4 and t = lane % 4; each 32-bit
// register holds two bf16, the lower column in the low half:
//   A [16 x 16] row-major: a0 (row g, cols 2t, 2t+1), a1 (row g+8, same), a2 (row g, cols 2t+8, 2t+9),
//                          a3 (row g+8, cols 2t+8, 2t+9);
//   B [16 x 8] "col":      b0 (rows 2t, 2t+1, col g), b1 (rows 2t+8, 2t+9, col g);
//   C [16 x 8] f32:        c0, c1 (row g, cols 2t, 2t+1), c2, c3 (row g+8, same).
// So the C fragments of two neighbouring n8 tiles are, element for element, the A fragment of
// the k16 chunk they span (FlashAttention-2's register reuse of P).

// c += a b (m16n8k16, bf16 in, f32 accumulate).
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
               "{%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return uint32_t(__cvta_generic_to_shared(p));
}

// Four 8x8 bf16 matrices from shared memory: lanes 8m .. 8m+7 give the row addresses of matrix
// m; register m gets (row g, cols 2t, 2t+1) of matrix m (its transpose with .trans).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const bf* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const bf* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(row)));
}

// Two floats as one register of two bf16 (round to nearest even), `lo` in the low half.
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// 16 bytes global -> shared without passing through registers (cp.async); `valid` false
// writes zeros instead (src-size 0: nothing is read).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::);
}
__device__ __forceinline__ void cp_async_wait_all() {
  asm volatile("cp.async.wait_all;\n" ::: "memory");
}

// dst [kBr, ld] bf16 <- rows [r0, r0 + kBr) of src (row stride `tok`), hd of HD columns, through
// cp.async; rows past S and columns past hd become zeros (they must not carry NaN from stale memory).
template <int HD>
__device__ __forceinline__ void load_tile_async(bf* dst, int ld, const bf* src, int64_t tok, int64_t r0,
                                                int64_t S, int64_t hd) {
  constexpr int chunks = HD / 8;
  for (int idx = threadIdx.x; idx < kBr * chunks; idx += kThreads) {
    const int r = idx / chunks, c = (idx % chunks) * 8;
    const bool valid = r0 + r < S && c < hd;
    cp_async16(dst + r * ld + c, valid ? src + (r0 + r) * tok + c : src, valid);
  }
}

constexpr float kLog2e = 1.4426950408889634f; // scores in log2 units: exp(x) = exp2(x log2 e)
constexpr float kLn2 = 0.6931471805599453f;   // back to natural units: ln(x) = log2(x) ln 2

// The K and V tiles of one kv head (sample b, head kvh), double-buffered in shared memory from
// `smem` on ([2][kBc][LD] of K, then of V): load(kt) starts the cp.async copy of key tile kt into
// buffer kt % 2 (the caller commits); k(kt), v(kt) are that buffer. The forward and dQ kernels
// loop over key tiles with it.
template <int HD> struct KvTiles {
  static constexpr int LD = launch::FlashSmem{HD}.ld_h();
  bf *sK, *sV;
  const bf *kbase, *vbase;
  int64_t tok, S, hd;
  __device__ KvTiles(const Params& p, int64_t b, int64_t kvh, bf* smem)
      : sK(smem), sV(smem + 2 * kBc * LD), kbase(p.k + b * p.kv.batch + kvh * p.kv.head),
        vbase(p.v + b * p.kv.batch + kvh * p.kv.head), tok(p.kv.tok), S(p.S), hd(p.hd) {}
  __device__ void load(int64_t kt) const {
    const int buf = int(kt % 2);
    load_tile_async<HD>(sK + buf * kBc * LD, LD, kbase, tok, kt * kBc, S, hd);
    load_tile_async<HD>(sV + buf * kBc * LD, LD, vbase, tok, kt * kBc, S, hd);
  }
  __device__ const bf* k(int64_t kt) const { return sK + int(kt % 2) * kBc * LD; }
  __device__ const bf* v(int64_t kt) const { return sV + int(kt % 2) * kBc * LD; }
};

// This lane's ldmatrix row address (in elements, row pitch LD) for three uses of a tile:
//   a: A fragments of warp w's 16 rows, matrices (rows 0-7 | 8-15) x (cols 0-7 | 8-15);
//   b: the tile's rows as B's columns (S = X Y^T), matrices (rows 0-7, cols 0-7),
//          (rows 0-7, cols 8-15), (rows 8-15, cols 0-7), (rows 8-15, cols 8-15);
//   t: the tile's rows as B's rows (O = P Y, with .trans), matrices (rows 0-7, cols 0-7),
//          (rows 8-15, cols 0-7), (rows 0-7, cols 8-15), (rows 8-15, cols 8-15).
struct LaneOffsets {
  int a, b, t;
  __device__ LaneOffsets(int ld, int warp, int lane)
      : a((warp * 16 + lane % 8 + 8 * ((lane / 8) % 2)) * ld + 8 * (lane / 16)),
        b((lane % 8 + 8 * (lane / 16)) * ld + 8 * ((lane / 8) % 2)),
        t((lane % 8 + 8 * ((lane / 8) % 2)) * ld + 8 * (lane / 16)) {}
};

// acc [16 x 64] += A [16 x HD] x Y^T: A the warp's 16 rows of the tile at a, Y the [64 x HD]
// tile at y (both in shared memory, read through ldmatrix).
template <int HD>
__device__ __forceinline__ void mma_xyt(float (&acc)[kBc / 8][4], const bf* a, const bf* y,
                                        const LaneOffsets& o, int ld) {
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    uint32_t fa[4];
    ldmatrix_x4(fa, a + o.a + kk * 16);
#pragma unroll
    for (int np = 0; np < kBc / 16; ++np) {
      uint32_t fb[4];
      ldmatrix_x4(fb, y + o.b + np * 16 * ld + kk * 16);
      mma16816(acc[2 * np], fa, fb[0], fb[1]);
      mma16816(acc[2 * np + 1], fa, fb[2], fb[3]);
    }
  }
}

// acc [16 x HD] += P [16 x 64] (C fragments, reused as A) x Y, Y the [64 x HD] tile at y.
template <int HD>
__device__ __forceinline__ void mma_py(float (&acc)[HD / 8][4], const float (&pm)[kBc / 8][4], const bf* y,
                                       const LaneOffsets& o, int ld) {
#pragma unroll
  for (int kk = 0; kk < kBc / 16; ++kk) {
    const uint32_t fa[4] = {pack_bf16(pm[2 * kk][0], pm[2 * kk][1]), pack_bf16(pm[2 * kk][2], pm[2 * kk][3]),
                            pack_bf16(pm[2 * kk + 1][0], pm[2 * kk + 1][1]),
                            pack_bf16(pm[2 * kk + 1][2], pm[2 * kk + 1][3])};
#pragma unroll
    for (int dp = 0; dp < HD / 16; ++dp) {
      uint32_t fb[4];
      ldmatrix_x4_trans(fb, y + o.t + kk * 16 * ld + dp * 16);
      mma16816(acc[2 * dp], fa, fb[0], fb[1]);
      mma16816(acc[2 * dp + 1], fa, fb[2], fb[3]);
    }
  }
}

// Rows r0 + (lane / 4) and + 8 of dst (row stride tok) <- acc * mul, rows < S and columns < hd.
template <int HD>
__device__ __forceinline__ void store_acc(const float (&acc)[HD / 8][4], bf* dst, int64_t tok, int64_t r0,
                                          int64_t S, int64_t hd, float mul) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t i = r0 + lane / 4 + 8 * r;
    if (i >= S)
      continue;
#pragma unroll
    for (int d = 0; d < HD / 8; ++d) {
      const int col = d * 8 + 2 * (lane % 4);
      if (col < hd)
        *reinterpret_cast<uint32_t*>(dst + i * tok + col) =
            pack_bf16(acc[d][2 * r] * mul, acc[d][2 * r + 1] * mul);
    }
  }
}

// flash_forward.cu: argument checks shared with backward (head dim, grouping, 16-byte
// alignment of pointers and strides), and the head-dim tile (32, 64 or 128) for hd.
void check_args(const Params& p, std::initializer_list<const void*> ptrs,
                std::initializer_list<AttnView> views);
int head_tile(int64_t hd);
// Params with the inputs, views, mask, shape and scale filled in (outputs left to the caller).
Params make_params(const bf16* q, const bf16* k, const bf16* v, const AttnView& qv, const AttnView& kv,
                   const AttnView& ov, const int32_t* sep, const AttnShape& s);

} // namespace glm3d::cuda::flash
