// Flash-attention forward: one block per (query tile, head, sample); each warp owns 16 query
// rows. Per key tile: S = Q K^T (WMMA), online softmax on the warp's rows (two lanes per row),
// O = alpha O + P V with O kept in shared memory (WMMA accumulator layouts are opaque, so the
// per-row rescale happens there). The GLM mask is applied per element only on tiles that
// straddle it (launch::tile_fully_visible).
#include "core/cuda/check.h"
#include "core/cuda/flash_common.cuh"

#include <cmath>

namespace glm3d::cuda {
namespace flash {

template <int HD> __global__ void __launch_bounds__(kThreads) forward_kernel(Params p) {
  extern __shared__ __align__(128) unsigned char smem[];
  const launch::FlashSmem L{HD};
  const int ldh = L.ld_h(), lds = L.ld_s(), ldp = L.ld_p(), ldo = L.ld_o();
  bf* sQ = reinterpret_cast<bf*>(smem);
  bf* sK = reinterpret_cast<bf*>(smem + L.tile_h());
  bf* sV = reinterpret_cast<bf*>(smem + 2 * L.tile_h());
  float* sS = reinterpret_cast<float*>(smem + 3 * L.tile_h());
  bf* sP = reinterpret_cast<bf*>(smem + 3 * L.tile_h() + L.tile_s());
  float* sO = reinterpret_cast<float*>(smem + 3 * L.tile_h() + L.tile_s() + L.tile_p());
  float* sM = sO + kBr * ldo;
  float* sL = sM + kBr;

  const int64_t i0 = int64_t(blockIdx.x) * kBr, h = blockIdx.y, b = blockIdx.z;
  const int64_t g = h / (p.nh / p.nkv), sep = sep_of(p, b), S = p.S;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const bf* kbase = p.k + b * p.kv.batch + g * p.kv.head;
  const bf* vbase = p.v + b * p.kv.batch + g * p.kv.head;

  load_tile<HD>(sQ, ldh, p.q + b * p.qv.batch + h * p.qv.head, p.qv.tok, i0, S, p.hd);
  for (int idx = threadIdx.x; idx < kBr * HD; idx += kThreads)
    sO[(idx / HD) * ldo + idx % HD] = 0.0f;
  if (threadIdx.x < kBr) {
    sM[threadIdx.x] = -INFINITY;
    sL[threadIdx.x] = 0.0f;
  }
  const int row = warp * 16 + lane / 2, half = lane % 2; // this lane's row and column half
  const int64_t i = i0 + row;
  const int64_t tiles = launch::key_tiles(min(i0 + kBr, S), sep, S);
  for (int64_t kt = 0; kt < tiles; ++kt) {
    const int64_t j0 = kt * kBc;
    __syncthreads(); // everyone is done with the previous K, V
    load_tile<HD>(sK, ldh, kbase, p.kv.tok, j0, S, p.hd);
    load_tile<HD>(sV, ldh, vbase, p.kv.tok, j0, S, p.hd);
    __syncthreads();
    for (int n = 0; n < kBc / 16; ++n) { // S_w [16, kBc] = Q_w K^T
      FragC acc;
      wmma::fill_fragment(acc, 0.0f);
      for (int kk = 0; kk < HD / 16; ++kk) {
        FragA a;
        FragBcol kb;
        wmma::load_matrix_sync(a, sQ + warp * 16 * ldh + kk * 16, ldh);
        wmma::load_matrix_sync(kb, sK + n * 16 * ldh + kk * 16, ldh);
        wmma::mma_sync(acc, a, kb, acc);
      }
      wmma::store_matrix_sync(sS + warp * 16 * lds + n * 16, acc, lds, wmma::mem_row_major);
    }
    __syncwarp();
    const bool full = launch::tile_fully_visible(i0, j0 + kBc, sep) && j0 + kBc <= S;
    float* srow = sS + row * lds + half * 32;
    float mx = -INFINITY;
    for (int c = 0; c < 32; ++c) {
      const int64_t j = j0 + half * 32 + c;
      float s = srow[c] * p.scale;
      if (!full && !(j < S && launch::visible(i, j, sep)))
        s = -INFINITY;
      srow[c] = s;
      mx = fmaxf(mx, s);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    const float m_old = sM[row], m_new = fmaxf(m_old, mx);
    const float alpha = m_new == -INFINITY ? 1.0f : __expf(m_old - m_new);
    float sum = 0.0f;
    bf* prow = sP + row * ldp + half * 32;
    for (int c = 0; c < 32; ++c) {
      const float e = m_new == -INFINITY ? 0.0f : __expf(srow[c] - m_new);
      sum += e;
      prow[c] = __float2bfloat16(e);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    for (int d = half * (HD / 2); d < (half + 1) * (HD / 2); ++d)
      sO[row * ldo + d] *= alpha;
    __syncwarp(); // both lanes of the row have read sM before it changes
    if (half == 0) {
      sM[row] = m_new;
      sL[row] = sL[row] * alpha + sum;
    }
    __syncwarp();
    for (int n = 0; n < HD / 16; ++n) { // O_w [16, HD] += P_w V
      FragC acc;
      wmma::load_matrix_sync(acc, sO + warp * 16 * ldo + n * 16, ldo, wmma::mem_row_major);
      for (int kk = 0; kk < kBc / 16; ++kk) {
        FragA a;
        FragBrow vb;
        wmma::load_matrix_sync(a, sP + warp * 16 * ldp + kk * 16, ldp);
        wmma::load_matrix_sync(vb, sV + kk * 16 * ldh + n * 16, ldh);
        wmma::mma_sync(acc, a, vb, acc);
      }
      wmma::store_matrix_sync(sO + warp * 16 * ldo + n * 16, acc, ldo, wmma::mem_row_major);
    }
    __syncwarp();
  }
  bf* obase = p.o + b * p.ov.batch + h * p.ov.head;
  for (int r = warp * 16; r < warp * 16 + 16; ++r) {
    const int64_t ir = i0 + r;
    if (ir >= S)
      break;
    const float inv = 1.0f / sL[r];
    for (int d = lane; d < p.hd; d += 32)
      obase[ir * p.ov.tok + d] = __float2bfloat16(sO[r * ldo + d] * inv);
    if (lane == 0)
      p.lse[(b * p.nh + h) * S + ir] = sM[r] + logf(sL[r]);
  }
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
