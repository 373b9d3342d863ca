#pragma once
// Shared pieces of the flash-attention kernels (flash_forward.cu, flash_backward.cu):
// parameters, tile loads (16-byte vectors or cp.async, zero fill past S and past hd), WMMA
// fragment types and the staged write of a warp's [16, HD] f32 accumulators (backward), and
// the mma.sync / ldmatrix building blocks (forward).
#include "core/cuda/flash_attention.h"
#include "core/cuda/launch.h"

#include <cuda_bf16.h>
#include <mma.h>

#include <initializer_list>

namespace glm3d::cuda::flash {

namespace wmma = nvcuda::wmma;
using bf = __nv_bfloat16;
using launch::kBc;
using launch::kBr;
using launch::kWarps;
constexpr int kThreads = 32 * kWarps;
static_assert(kBr == kBc && kBr == 16 * kWarps, "one 16-row strip per warp, square tiles");

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf, wmma::row_major>;
using FragBrow = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf, wmma::row_major>;
using FragBcol = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

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

// dst [kBr, ld] bf16 <- rows [r0, r0 + kBr) of src (row stride `tok`), hd of HD columns;
// rows past S and columns past hd are zero (they must not carry NaN from stale memory).
template <int HD>
__device__ __forceinline__ void load_tile(bf* dst, int ld, const bf* src, int64_t tok, int64_t r0, int64_t S,
                                          int64_t hd) {
  constexpr int chunks = HD / 8;
  for (int idx = threadIdx.x; idx < kBr * chunks; idx += kThreads) {
    const int r = idx / chunks, c = (idx % chunks) * 8;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (r0 + r < S && c < hd)
      val = *reinterpret_cast<const uint4*>(src + (r0 + r) * tok + c);
    *reinterpret_cast<uint4*>(dst + r * ld + c) = val;
  }
}

// Writes a warp's accumulators acc[HD/16] ([16 rows, HD] f32, scaled by `mul`) to rows
// [r0, r0 + 16) of dst (row stride tok), hd columns, rows < S only; staged through the
// warp's own [16, kBc] strip of f32 shared memory `stage` (row stride lds).
template <int HD>
__device__ __forceinline__ void store_rows(FragC (&acc)[HD / 16], float* stage, int lds, bf* dst, int64_t tok,
                                           int64_t r0, int64_t S, int64_t hd, float mul) {
  const int lane = threadIdx.x & 31;
  for (int n0 = 0; n0 < HD / 16; n0 += kBc / 16) {
    for (int f = 0; f < kBc / 16 && n0 + f < HD / 16; ++f)
      wmma::store_matrix_sync(stage + f * 16, acc[n0 + f], lds, wmma::mem_row_major);
    __syncwarp();
    const int cols = (HD / 16 - n0) * 16 < kBc ? (HD / 16 - n0) * 16 : kBc;
    for (int idx = lane; idx < 16 * cols; idx += 32) {
      const int r = idx / cols, c = idx % cols, d = n0 * 16 + c;
      if (r0 + r < S && d < hd)
        dst[(r0 + r) * tok + d] = __float2bfloat16(stage[r * lds + c] * mul);
    }
    __syncwarp();
  }
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

// load_tile through cp.async: rows past S and columns past hd become zeros.
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

// flash_forward.cu: argument checks shared with backward (head dim, grouping, 16-byte
// alignment of pointers and strides), and the head-dim tile (32, 64 or 128) for hd.
void check_args(const Params& p, std::initializer_list<const void*> ptrs,
                std::initializer_list<AttnView> views);
int head_tile(int64_t hd);
// Params with the inputs, views, mask, shape and scale filled in (outputs left to the caller).
Params make_params(const bf16* q, const bf16* k, const bf16* v, const AttnView& qv, const AttnView& kv,
                   const AttnView& ov, const int32_t* sep, const AttnShape& s);

} // namespace glm3d::cuda::flash
