// Flash-attention backward in two deterministic kernels (no atomics), on mma.sync with every
// score, probability and gradient tile in registers (flash_common.cuh: fragment layouts):
//   dK/dV: one block per (key tile, kv head, sample); each warp owns 16 keys and loops over
//          the query heads of its group and the query tiles that see the key tile, with
//          P^T = exp(K Q^T scale - lse), dV += P^T dO, dP^T = V dO^T, dS^T = P^T (dP^T - D),
//          dK += dS^T Q (times scale at the end);
//   dQ:    one block per (query tile, head, sample); each warp owns 16 queries:
//          dQ += dS K over the visible key tiles.
// D = rowsum(dO * O) per query row comes from a small kernel first. Probabilities are
// recomputed from the saved logsumexp; the tiles a block loops over are double-buffered
// through cp.async.
#include "core/cuda/check.h"
#include "core/cuda/flash_common.cuh"

#include <cmath>

namespace glm3d::cuda {
namespace flash {

// delta[(b nh + h) S + i] = sum_d dout * out; one warp per row.
__global__ void delta_kernel(Params p, float* delta) {
  const int64_t rows = p.B * p.nh * p.S;
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows)
    return;
  const int64_t i = r % p.S, h = (r / p.S) % p.nh, b = r / (p.S * p.nh);
  const int64_t off = b * p.ov.batch + i * p.ov.tok + h * p.ov.head;
  float s = 0.0f;
  for (int64_t d = lane; d < p.hd; d += 32)
    s += __bfloat162float(p.dout[off + d]) * __bfloat162float(p.out[off + d]);
  for (int o = 16; o > 0; o >>= 1)
    s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0)
    delta[r] = s;
}

// dK, dV of one key tile (kBc keys, each warp 16 of them) for kv head g of sample b: over the
// query heads of the group and the query tiles that see the tile, double-buffered (Q, dO, lse
// and D of the next (head, query tile) load during this one's math).
template <int HD> __global__ void __launch_bounds__(kThreads) dkdv_kernel(Params p) {
  constexpr int LD = launch::FlashSmem{HD}.ld_h(), NT = kBr / 8, DT = HD / 8;
  extern __shared__ __align__(128) unsigned char smem[];
  bf* sK = reinterpret_cast<bf*>(smem);                    // [kBc][LD]
  bf* sV = sK + kBc * LD;                                  // [kBc][LD]
  bf* sQ = sV + kBc * LD;                                  // [2][kBr][LD]
  bf* sO = sQ + 2 * kBr * LD;                              // dO [2][kBr][LD]
  float* sL = reinterpret_cast<float*>(sO + 2 * kBr * LD); // lse in log2 units [2][kBr]
  float* sD = sL + 2 * kBr;                                // D [2][kBr]
  const int64_t j0 = int64_t(blockIdx.x) * kBc, g = blockIdx.y, b = blockIdx.z, S = p.S;
  const int64_t group = p.nh / p.nkv, sep = sep_of(p, b);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, t = lane % 4;
  const LaneOffsets o(LD, warp, lane);
  const int64_t qfirst = launch::first_query_tile(j0, sep), per_head = launch::ceil_div(S, kBr) - qfirst;
  const int64_t items = group * per_head; // (query head, query tile) pairs, head-major
  auto stage = [&](int64_t it, int buf) {
    const int64_t h = g * group + it / per_head, i0 = (qfirst + it % per_head) * kBr;
    load_tile_async<HD>(sQ + buf * kBr * LD, LD, p.q + b * p.qv.batch + h * p.qv.head, p.qv.tok, i0, S, p.hd);
    load_tile_async<HD>(sO + buf * kBr * LD, LD, p.dout + b * p.ov.batch + h * p.ov.head, p.ov.tok, i0, S,
                        p.hd);
    if (threadIdx.x < kBr) {
      const int64_t i = i0 + threadIdx.x, r = (b * p.nh + h) * S + i;
      sL[buf * kBr + threadIdx.x] =
          i < S ? p.lse_in[r] * kLog2e : INFINITY; // exp2(s - inf) = 0: padding rows
      sD[buf * kBr + threadIdx.x] = i < S ? p.delta[r] : 0.0f;
    }
  };
  load_tile_async<HD>(sK, LD, p.k + b * p.kv.batch + g * p.kv.head, p.kv.tok, j0, S, p.hd);
  load_tile_async<HD>(sV, LD, p.v + b * p.kv.batch + g * p.kv.head, p.kv.tok, j0, S, p.hd);
  stage(0, 0);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();
  float dk[DT][4] = {}, dv[DT][4] = {};
  const int64_t key0 = j0 + warp * 16 + lane / 4; // this lane's keys: key0 and key0 + 8
  const float scale2 = p.scale * kLog2e;
  for (int64_t it = 0; it < items; ++it) {
    const int buf = int(it % 2);
    const bf* cQ = sQ + buf * kBr * LD;
    const bf* cO = sO + buf * kBr * LD;
    const float* cL = sL + buf * kBr;
    const float* cD = sD + buf * kBr;
    if (it + 1 < items) {
      stage(it + 1, buf ^ 1);
      cp_async_commit();
    }
    const int64_t i0 = (qfirst + it % per_head) * kBr;
    float s[NT][4] = {}, dpt[NT][4] = {};
    mma_xyt<HD>(s, sK, cQ, o, LD);   // S^T_w = K_w Q^T  [16 keys, kBr queries]
    mma_xyt<HD>(dpt, sV, cO, o, LD); // dP^T_w = V_w dO^T
    const bool unmasked = launch::tile_unmasked(i0, j0, sep, S);
#pragma unroll
    for (int n = 0; n < NT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int c = n * 8 + 2 * t + e % 2; // query column in the tile
        const bool kept = launch::keeps(unmasked, i0 + c, key0 + 8 * (e / 2), sep, S);
        const float pv = kept ? exp2f(s[n][e] * scale2 - cL[c]) : 0.0f;
        s[n][e] = pv;                         // P^T
        dpt[n][e] = pv * (dpt[n][e] - cD[c]); // dS^T
      }
    mma_py<HD>(dv, s, cO, o, LD);   // dV_w += P^T_w dO
    mma_py<HD>(dk, dpt, cQ, o, LD); // dK_w += dS^T_w Q
    cp_async_wait_all();
    __syncthreads();
  }
  store_acc<HD>(dk, p.dk + b * p.kv.batch + g * p.kv.head, p.kv.tok, j0 + warp * 16, S, p.hd, p.scale);
  store_acc<HD>(dv, p.dv + b * p.kv.batch + g * p.kv.head, p.kv.tok, j0 + warp * 16, S, p.hd, 1.0f);
}

// dQ of one query tile (each warp 16 queries) of head h, sample b, over the key tiles it sees,
// with K and V double-buffered.
template <int HD> __global__ void __launch_bounds__(kThreads) dq_kernel(Params p) {
  constexpr int LD = launch::FlashSmem{HD}.ld_h(), NT = kBc / 8, DT = HD / 8;
  extern __shared__ __align__(128) unsigned char smem[];
  bf* sQ = reinterpret_cast<bf*>(smem); // [kBr][LD]
  bf* sO = sQ + kBr * LD;               // dO [kBr][LD], then K and V
  const int64_t i0 = int64_t(blockIdx.x) * kBr, h = blockIdx.y, b = blockIdx.z, S = p.S;
  const int64_t sep = sep_of(p, b);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, t = lane % 4;
  const LaneOffsets o(LD, warp, lane);
  const KvTiles<HD> kv(p, b, h / (p.nh / p.nkv), sO + kBr * LD);
  const int64_t tiles = launch::key_tiles(min(i0 + kBr, S), sep, S);
  load_tile_async<HD>(sQ, LD, p.q + b * p.qv.batch + h * p.qv.head, p.qv.tok, i0, S, p.hd);
  load_tile_async<HD>(sO, LD, p.dout + b * p.ov.batch + h * p.ov.head, p.ov.tok, i0, S, p.hd);
  kv.load(0);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();
  const int64_t row0 = i0 + warp * 16 + lane / 4; // this lane's queries: row0 and row0 + 8
  float lse2[2], dl[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t i = row0 + 8 * r, at = (b * p.nh + h) * S + i;
    lse2[r] = i < S ? p.lse_in[at] * kLog2e : INFINITY;
    dl[r] = i < S ? p.delta[at] : 0.0f;
  }
  const float scale2 = p.scale * kLog2e;
  float dq[DT][4] = {};
  for (int64_t kt = 0; kt < tiles; ++kt) {
    if (kt + 1 < tiles) {
      kv.load(kt + 1);
      cp_async_commit();
    }
    const int64_t j0 = kt * kBc;
    float s[NT][4] = {}, dps[NT][4] = {};
    mma_xyt<HD>(s, sQ, kv.k(kt), o, LD);   // S_w = Q_w K^T
    mma_xyt<HD>(dps, sO, kv.v(kt), o, LD); // dP_w = dO_w V^T
    const bool unmasked = launch::tile_unmasked(i0, j0, sep, S);
#pragma unroll
    for (int n = 0; n < NT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t i = row0 + 8 * (e / 2), j = j0 + n * 8 + 2 * t + e % 2;
        const float pv = launch::keeps(unmasked, i, j, sep, S) ? exp2f(s[n][e] * scale2 - lse2[e / 2]) : 0.0f;
        dps[n][e] = pv * (dps[n][e] - dl[e / 2]); // dS
      }
    mma_py<HD>(dq, dps, kv.k(kt), o, LD); // dQ_w += dS_w K
    cp_async_wait_all();
    __syncthreads();
  }
  store_acc<HD>(dq, p.dq + b * p.qv.batch + h * p.qv.head, p.qv.tok, i0 + warp * 16, S, p.hd, p.scale);
}

template <int HD> void launch_backward(const Params& p, cudaStream_t stream) {
  const launch::FlashSmem L{HD};
  const size_t kv_smem = L.bwd_kv_bytes(), q_smem = L.bwd_q_bytes();
  CUDA_CHECK(
      cudaFuncSetAttribute(dkdv_kernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(kv_smem)));
  CUDA_CHECK(cudaFuncSetAttribute(dq_kernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(q_smem)));
  const unsigned tiles = unsigned(launch::ceil_div(p.S, kBr));
  dkdv_kernel<HD><<<dim3(tiles, unsigned(p.nkv), unsigned(p.B)), kThreads, kv_smem, stream>>>(p);
  CUDA_CHECK_LAUNCH();
  dq_kernel<HD><<<dim3(tiles, unsigned(p.nh), unsigned(p.B)), kThreads, q_smem, stream>>>(p);
  CUDA_CHECK_LAUNCH();
}

} // namespace flash

void flash_attention_backward(const bf16* dout, const bf16* q, const bf16* k, const bf16* v, const bf16* out,
                              const float* lse, const AttnView& qv, const AttnView& kv, const AttnView& ov,
                              const int32_t* sep, bf16* dq, bf16* dk, bf16* dv, const AttnShape& s,
                              DeviceAllocator& alloc, cudaStream_t stream) {
  using flash::bf;
  flash::Params p = flash::make_params(q, k, v, qv, kv, ov, sep, s);
  p.out = reinterpret_cast<const bf*>(out);
  p.dout = reinterpret_cast<const bf*>(dout);
  p.dq = reinterpret_cast<bf*>(dq);
  p.dk = reinterpret_cast<bf*>(dk);
  p.dv = reinterpret_cast<bf*>(dv);
  p.lse_in = lse;
  flash::check_args(p, {dout, q, k, v, out, dq, dk, dv}, {qv, kv, ov});
  if (s.B == 0 || s.S == 0 || s.nh == 0)
    return;
  const int64_t rows = s.B * s.nh * s.S;
  DeviceBuffer delta = alloc.allocate(size_t(rows) * sizeof(float), stream);
  flash::delta_kernel<<<unsigned(launch::ceil_div(rows * 32, 256)), 256, 0, stream>>>(p, delta.as<float>());
  CUDA_CHECK_LAUNCH();
  p.delta = delta.as<float>();
  switch (flash::head_tile(s.hd)) {
  case 32:
    return flash::launch_backward<32>(p, stream);
  case 64:
    return flash::launch_backward<64>(p, stream);
  default:
    return flash::launch_backward<128>(p, stream);
  }
}

void glm_attention_backward(const bf16* dout, const bf16* qkv, const bf16* out, const float* lse,
                            const int32_t* sep, bf16* dqkv, int64_t B, int64_t S, int64_t nh, int64_t hd,
                            DeviceAllocator& alloc, cudaStream_t stream) {
  const AttnView x{S * nh * 3 * hd, nh * 3 * hd, 3 * hd}, o{S * nh * hd, nh * hd, hd};
  flash_attention_backward(dout, qkv, qkv + hd, qkv + 2 * hd, out, lse, x, x, o, sep, dqkv, dqkv + hd,
                           dqkv + 2 * hd, {B, S, nh, nh, hd}, alloc, stream);
}

} // namespace glm3d::cuda
