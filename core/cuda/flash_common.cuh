#pragma once
// Shared pieces of the flash-attention kernels (flash_forward.cu, flash_backward.cu):
// parameters, tile loads (16-byte vectors, zero fill past S and past hd), WMMA fragment
// types, and the staged write of a warp's [16, HD] f32 accumulators.
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

// flash_forward.cu: argument checks shared with backward (head dim, grouping, 16-byte
// alignment of pointers and strides), and the head-dim tile (32, 64 or 128) for hd.
void check_args(const Params& p, std::initializer_list<const void*> ptrs,
                std::initializer_list<AttnView> views);
int head_tile(int64_t hd);
// Params with the inputs, views, mask, shape and scale filled in (outputs left to the caller).
Params make_params(const bf16* q, const bf16* k, const bf16* v, const AttnView& qv, const AttnView& kv,
                   const AttnView& ov, const int32_t* sep, const AttnShape& s);

} // namespace glm3d::cuda::flash
