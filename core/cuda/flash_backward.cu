// Flash-attention backward in two deterministic kernels (no atomics):
//   dK/dV: one block per (key tile, kv head, sample); each warp owns 16 keys and loops over
//          the query heads of its group and the query tiles that see the key tile, with
//          P^T = exp(K Q^T scale - lse), dV += P^T dO, dP^T = V dO^T, dS^T = P^T (dP^T - D),
//          dK += dS^T Q (times scale at the end);
//   dQ:    one block per (query tile, head, sample); each warp owns 16 queries:
//          dQ += dS K over the visible key tiles.
// D = rowsum(dO * O) per query row comes from a small kernel first. Probabilities are
// recomputed from the saved logsumexp; each lane keeps its 32 of them in registers while dP
// passes through shared memory.
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

// acc[n] += A_w [16, 16 kk] x B: A from a [rows, lda] bf16 strip, B row-major [kk, HD] (ldb).
template <int HD, int K>
__device__ __forceinline__ void mma_rows(FragC (&acc)[HD / 16], const bf* a, int lda, const bf* bmat,
                                         int ldb) {
  for (int kk = 0; kk < K / 16; ++kk) {
    FragA fa;
    wmma::load_matrix_sync(fa, a + kk * 16, lda);
    for (int n = 0; n < HD / 16; ++n) {
      FragBrow fb;
      wmma::load_matrix_sync(fb, bmat + kk * 16 * ldb + n * 16, ldb);
      wmma::mma_sync(acc[n], fa, fb, acc[n]);
    }
  }
}

// out [16, kBc] f32 (row stride lds) = A_w [16, HD] x B^T, B [kBc, HD] bf16 row-major (ldb).
template <int HD>
__device__ __forceinline__ void mma_abt(float* out, int lds, const bf* a, int lda, const bf* bmat, int ldb) {
  for (int n = 0; n < kBc / 16; ++n) {
    FragC acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int kk = 0; kk < HD / 16; ++kk) {
      FragA fa;
      FragBcol fb;
      wmma::load_matrix_sync(fa, a + kk * 16, lda);
      wmma::load_matrix_sync(fb, bmat + n * 16 * ldb + kk * 16, ldb);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(out + n * 16, acc, lds, wmma::mem_row_major);
  }
}

template <int HD> struct Tiles {
  bf *a, *b, *c, *d; // four [kBr, HD] bf16 tiles
  float* s;          // [kBr, kBc] f32
  bf *p, *ds;        // [kBr, kBc] bf16
  float *lse, *delta;
  __device__ Tiles(unsigned char* smem, bool with_p) {
    const launch::FlashSmem L{HD};
    a = reinterpret_cast<bf*>(smem);
    b = reinterpret_cast<bf*>(smem + L.tile_h());
    c = reinterpret_cast<bf*>(smem + 2 * L.tile_h());
    d = reinterpret_cast<bf*>(smem + 3 * L.tile_h());
    s = reinterpret_cast<float*>(smem + 4 * L.tile_h());
    unsigned char* q = smem + 4 * L.tile_h() + L.tile_s();
    p = with_p ? reinterpret_cast<bf*>(q) : nullptr;
    ds = reinterpret_cast<bf*>(q + (with_p ? L.tile_p() : 0));
    lse = reinterpret_cast<float*>(reinterpret_cast<unsigned char*>(ds) + L.tile_p());
    delta = lse + kBr;
  }
};

template <int HD> __global__ void __launch_bounds__(kThreads) dkdv_kernel(Params p) {
  extern __shared__ __align__(128) unsigned char smem[];
  const launch::FlashSmem L{HD};
  const int ldh = L.ld_h(), lds = L.ld_s(), ldp = L.ld_p();
  Tiles<HD> t(smem, true); // a = K, b = V, c = Q, d = dO
  const int64_t j0 = int64_t(blockIdx.x) * kBc, g = blockIdx.y, b = blockIdx.z, S = p.S;
  const int64_t group = p.nh / p.nkv, sep = sep_of(p, b);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int krow = warp * 16 + lane / 2, half = lane % 2; // this lane's key row and query half
  const int64_t j = j0 + krow;
  load_tile<HD>(t.a, ldh, p.k + b * p.kv.batch + g * p.kv.head, p.kv.tok, j0, S, p.hd);
  load_tile<HD>(t.b, ldh, p.v + b * p.kv.batch + g * p.kv.head, p.kv.tok, j0, S, p.hd);
  FragC dk[HD / 16], dv[HD / 16];
  for (int n = 0; n < HD / 16; ++n) {
    wmma::fill_fragment(dk[n], 0.0f);
    wmma::fill_fragment(dv[n], 0.0f);
  }
  const int64_t qtiles = launch::ceil_div(S, kBr);
  for (int64_t h = g * group; h < (g + 1) * group; ++h) {
    for (int64_t qt = launch::first_query_tile(j0, sep); qt < qtiles; ++qt) {
      const int64_t i0 = qt * kBr;
      __syncthreads(); // previous Q, dO, lse, D no longer read
      load_tile<HD>(t.c, ldh, p.q + b * p.qv.batch + h * p.qv.head, p.qv.tok, i0, S, p.hd);
      load_tile<HD>(t.d, ldh, p.dout + b * p.ov.batch + h * p.ov.head, p.ov.tok, i0, S, p.hd);
      if (threadIdx.x < kBr) {
        const int64_t i = i0 + threadIdx.x, r = (b * p.nh + h) * S + i;
        t.lse[threadIdx.x] = i < S ? p.lse_in[r] : INFINITY; // exp(s - inf) = 0 for padding rows
        t.delta[threadIdx.x] = i < S ? p.delta[r] : 0.0f;
      }
      __syncthreads();
      float* srow = t.s + warp * 16 * lds;
      mma_abt<HD>(srow, lds, t.a + warp * 16 * ldh, ldh, t.c, ldh); // S^T_w = K_w Q^T
      __syncwarp();
      float pr[32]; // P^T of (key krow, queries half*32 + c)
      float* mine = t.s + krow * lds + half * 32;
      bf* prow = t.p + krow * ldp + half * 32;
      for (int c = 0; c < 32; ++c) {
        const int q = half * 32 + c;
        const int64_t i = i0 + q;
        const bool ok = j < S && i < S && launch::visible(i, j, sep);
        pr[c] = ok ? __expf(mine[c] * p.scale - t.lse[q]) : 0.0f;
        prow[c] = __float2bfloat16(pr[c]);
      }
      __syncwarp();
      mma_rows<HD, kBr>(dv, t.p + warp * 16 * ldp, ldp, t.d, ldh);  // dV_w += P^T_w dO
      mma_abt<HD>(srow, lds, t.b + warp * 16 * ldh, ldh, t.d, ldh); // dP^T_w = V_w dO^T
      __syncwarp();
      bf* dsrow = t.ds + krow * ldp + half * 32;
      for (int c = 0; c < 32; ++c)
        dsrow[c] = __float2bfloat16(pr[c] * (mine[c] - t.delta[half * 32 + c]));
      __syncwarp();
      mma_rows<HD, kBr>(dk, t.ds + warp * 16 * ldp, ldp, t.c, ldh); // dK_w += dS^T_w Q
    }
  }
  const int64_t r0 = j0 + warp * 16;
  float* stage = t.s + warp * 16 * lds;
  __syncwarp();
  store_rows<HD>(dk, stage, lds, p.dk + b * p.kv.batch + g * p.kv.head, p.kv.tok, r0, S, p.hd, p.scale);
  store_rows<HD>(dv, stage, lds, p.dv + b * p.kv.batch + g * p.kv.head, p.kv.tok, r0, S, p.hd, 1.0f);
}

template <int HD> __global__ void __launch_bounds__(kThreads) dq_kernel(Params p) {
  extern __shared__ __align__(128) unsigned char smem[];
  const launch::FlashSmem L{HD};
  const int ldh = L.ld_h(), lds = L.ld_s(), ldp = L.ld_p();
  Tiles<HD> t(smem, false); // a = Q, b = dO, c = K, d = V
  const int64_t i0 = int64_t(blockIdx.x) * kBr, h = blockIdx.y, b = blockIdx.z, S = p.S;
  const int64_t g = h / (p.nh / p.nkv), sep = sep_of(p, b);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int qrow = warp * 16 + lane / 2, half = lane % 2;
  const int64_t i = i0 + qrow;
  load_tile<HD>(t.a, ldh, p.q + b * p.qv.batch + h * p.qv.head, p.qv.tok, i0, S, p.hd);
  load_tile<HD>(t.b, ldh, p.dout + b * p.ov.batch + h * p.ov.head, p.ov.tok, i0, S, p.hd);
  const int64_t r = (b * p.nh + h) * S + i;
  const float lse = i < S ? p.lse_in[r] : INFINITY, delta = i < S ? p.delta[r] : 0.0f;
  FragC dq[HD / 16];
  for (int n = 0; n < HD / 16; ++n)
    wmma::fill_fragment(dq[n], 0.0f);
  const int64_t tiles = launch::key_tiles(min(i0 + kBr, S), sep, S);
  for (int64_t kt = 0; kt < tiles; ++kt) {
    const int64_t j0 = kt * kBc;
    __syncthreads();
    load_tile<HD>(t.c, ldh, p.k + b * p.kv.batch + g * p.kv.head, p.kv.tok, j0, S, p.hd);
    load_tile<HD>(t.d, ldh, p.v + b * p.kv.batch + g * p.kv.head, p.kv.tok, j0, S, p.hd);
    __syncthreads();
    float* srow = t.s + warp * 16 * lds;
    mma_abt<HD>(srow, lds, t.a + warp * 16 * ldh, ldh, t.c, ldh); // S_w = Q_w K^T
    __syncwarp();
    float pr[32];
    float* mine = t.s + qrow * lds + half * 32;
    for (int c = 0; c < 32; ++c) {
      const int64_t jj = j0 + half * 32 + c;
      const bool ok = jj < S && i < S && launch::visible(i, jj, sep);
      pr[c] = ok ? __expf(mine[c] * p.scale - lse) : 0.0f;
    }
    __syncwarp();
    mma_abt<HD>(srow, lds, t.b + warp * 16 * ldh, ldh, t.d, ldh); // dP_w = dO_w V^T
    __syncwarp();
    bf* dsrow = t.ds + qrow * ldp + half * 32;
    for (int c = 0; c < 32; ++c)
      dsrow[c] = __float2bfloat16(pr[c] * (mine[c] - delta));
    __syncwarp();
    mma_rows<HD, kBc>(dq, t.ds + warp * 16 * ldp, ldp, t.c, ldh); // dQ_w += dS_w K
  }
  __syncwarp();
  store_rows<HD>(dq, t.s + warp * 16 * lds, lds, p.dq + b * p.qv.batch + h * p.qv.head, p.qv.tok,
                 i0 + warp * 16, S, p.hd, p.scale);
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
