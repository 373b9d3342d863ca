// Flash-attention forward, FlashAttention-2 style: one block per (query tile of kBr rows, head,
// sample); each warp owns 16 query rows. Q's A fragments come from shared memory; K and V tiles
// of kBc keys are double-buffered in shared memory through cp.async, so the next tile loads
// while this one is computed. Per key tile: S = Q K^T by mma.sync into registers; the online
// softmax on those registers (a row's values sit in the 4 lanes of a quad, g = lane / 4); P,
// rounded to bf16, is reused in place as the A operand of O += P V; O stays in registers
// (flash_common.cuh gives the fragment layouts). The GLM mask is applied per element only on
// tiles that straddle it (launch::tile_unmasked). Scores are kept in log2 units
// (exp(x) = exp2(x log2 e)); lse is written in natural units.
#include "core/cuda/check.h"
#include "core/cuda/flash_common.cuh"

#include <cmath>

namespace glm3d::cuda {
namespace flash {

template <int HD> __global__ void __launch_bounds__(kThreads) forward_kernel(Params p) {
  constexpr int LD = launch::FlashSmem{HD}.ld_h(), NT = kBc / 8, DT = HD / 8;
  extern __shared__ __align__(128) unsigned char smem[];
  bf* sQ = reinterpret_cast<bf*>(smem); // [kBr][LD], then K and V
  const int64_t i0 = int64_t(blockIdx.x) * kBr, h = blockIdx.y, b = blockIdx.z;
  const int64_t sep = sep_of(p, b), S = p.S;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, t = lane % 4;
  const LaneOffsets o(LD, warp, lane);
  const KvTiles<HD> kv(p, b, h / (p.nh / p.nkv), sQ + kBr * LD);
  const int64_t tiles = launch::key_tiles(min(i0 + kBr, S), sep, S);
  load_tile_async<HD>(sQ, LD, p.q + b * p.qv.batch + h * p.qv.head, p.qv.tok, i0, S, p.hd);
  kv.load(0);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();

  float acc[DT][4] = {};
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  const int64_t row0 = i0 + warp * 16 + lane / 4; // this lane's rows: row0 and row0 + 8
  const float scale2 = p.scale * kLog2e;
  for (int64_t kt = 0; kt < tiles; ++kt) {
    if (kt + 1 < tiles) { // everyone finished the previous tile (barrier below): its buffer is free
      kv.load(kt + 1);
      cp_async_commit();
    }
    const int64_t j0 = kt * kBc;
    float s[NT][4] = {};
    mma_xyt<HD>(s, sQ, kv.k(kt), o, LD); // S_w = Q_w K^T
    const bool unmasked = launch::tile_unmasked(i0, j0, sep, S);
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < NT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t i = row0 + 8 * (e / 2), j = j0 + n * 8 + 2 * t + e % 2;
        const float v = launch::keeps(unmasked, i, j, sep, S) ? s[n][e] * scale2 : -INFINITY;
        s[n][e] = v;
        mx[e / 2] = fmaxf(mx[e / 2], v);
      }
    float alpha[2], rs[2] = {0.0f, 0.0f};
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float mn = fmaxf(m[r], mx[r]);
      alpha[r] = mn == -INFINITY ? 1.0f : exp2f(m[r] - mn);
      m[r] = mn;
    }
#pragma unroll
    for (int n = 0; n < NT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float mr = m[e / 2];
        const float pv = mr == -INFINITY ? 0.0f : exp2f(s[n][e] - mr);
        s[n][e] = pv;
        rs[e / 2] += pv;
      }
#pragma unroll
    for (int r = 0; r < 2; ++r)
      l[r] = l[r] * alpha[r] + rs[r]; // this lane's share of the row sum; the quad adds at the end
#pragma unroll
    for (int d = 0; d < DT; ++d) {
      acc[d][0] *= alpha[0], acc[d][1] *= alpha[0];
      acc[d][2] *= alpha[1], acc[d][3] *= alpha[1];
    }
    mma_py<HD>(acc, s, kv.v(kt), o, LD); // O_w += P_w V
    cp_async_wait_all();                 // the next tile has landed ...
    __syncthreads();                     // ... for everyone, and nobody still reads this one
  }
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    inv[r] = 1.0f / l[r];
    const int64_t i = row0 + 8 * r;
    if (t == 0 && i < S)
      p.lse[(b * p.nh + h) * S + i] = (m[r] + log2f(l[r])) * kLn2;
  }
#pragma unroll
  for (int d = 0; d < DT; ++d) {
    acc[d][0] *= inv[0], acc[d][1] *= inv[0];
    acc[d][2] *= inv[1], acc[d][3] *= inv[1];
  }
  store_acc<HD>(acc, p.o + b * p.ov.batch + h * p.ov.head, p.ov.tok, i0 + warp * 16, S, p.hd, 1.0f);
}

// Checks shared by forward and backward: shapes, head grouping, 16-byte alignment.
void check_args(const Params& p, std::initializer_list<const void*> ptrs,
                std::initializer_list<AttnView> views) {
  GLM3D_CHECK(p.hd > 0 && p.hd <= 128 && p.hd % 8 == 0)
      << "flash attention: head dim " << p.hd << " must be a multiple of 8 and at most 128";
  GLM3D_CHECK(p.nkv > 0 && p.nh % p.nkv == 0)
      << "flash attention: " << p.nh << " query heads over " << p.nkv << " kv heads";
  for (const void* ptr : ptrs)
    GLM3D_CHECK(reinterpret_cast<uintptr_t>(ptr) % 16 == 0)
        << "flash attention: pointer " << ptr << " not 16-byte aligned";
  for (const AttnView& v : views)
    GLM3D_CHECK(v.batch % 8 == 0 && v.tok % 8 == 0 && v.head % 8 == 0)
        << "flash attention: strides (" << v.batch << ", " << v.tok << ", " << v.head
        << ") not multiples of 8";
}

Params make_params(const bf16* q, const bf16* k, const bf16* v, const AttnView& qv, const AttnView& kv,
                   const AttnView& ov, const int32_t* sep, const AttnShape& s) {
  Params p{};
  p.q = reinterpret_cast<const bf*>(q);
  p.k = reinterpret_cast<const bf*>(k);
  p.v = reinterpret_cast<const bf*>(v);
  p.qv = qv;
  p.kv = kv;
  p.ov = ov;
  p.sep = sep;
  p.B = s.B, p.S = s.S, p.nh = s.nh, p.nkv = s.nkv, p.hd = s.hd;
  p.scale = float(1.0 / std::sqrt(double(s.hd)));
  return p;
}

int head_tile(int64_t hd) {
  return hd <= 32 ? 32 : hd <= 64 ? 64 : 128;
}

template <int HD> void launch_forward(const Params& p, cudaStream_t stream) {
  const size_t smem = launch::FlashSmem{HD}.fwd_bytes();
  CUDA_CHECK(
      cudaFuncSetAttribute(forward_kernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  const dim3 grid(unsigned(launch::ceil_div(p.S, kBr)), unsigned(p.nh), unsigned(p.B));
  forward_kernel<HD><<<grid, kThreads, smem, stream>>>(p);
  CUDA_CHECK_LAUNCH();
}

} // namespace flash

void flash_attention_forward(const bf16* q, const bf16* k, const bf16* v, const AttnView& qv,
                             const AttnView& kv, const int32_t* sep, bf16* out, const AttnView& ov,
                             float* lse, const AttnShape& s, cudaStream_t stream) {
  flash::Params p = flash::make_params(q, k, v, qv, kv, ov, sep, s);
  p.o = reinterpret_cast<flash::bf*>(out);
  p.lse = lse;
  flash::check_args(p, {q, k, v, out}, {qv, kv, ov});
  if (s.B == 0 || s.S == 0 || s.nh == 0)
    return;
  switch (flash::head_tile(s.hd)) {
  case 32:
    return flash::launch_forward<32>(p, stream);
  case 64:
    return flash::launch_forward<64>(p, stream);
  default:
    return flash::launch_forward<128>(p, stream);
  }
}

void glm_attention_forward(const bf16* qkv, const int32_t* sep, bf16* out, float* lse, int64_t B, int64_t S,
                           int64_t nh, int64_t hd, cudaStream_t stream) {
  const AttnView x{S * nh * 3 * hd, nh * 3 * hd, 3 * hd}, o{S * nh * hd, nh * hd, hd};
  flash_attention_forward(qkv, qkv + hd, qkv + 2 * hd, x, x, sep, out, o, lse, {B, S, nh, nh, hd}, stream);
}

} // namespace glm3d::cuda
