#pragma once
// Attention with the GLM mask on the GPU, flash style: S x S never materialised; forward
// keeps a running max and sum per query row (online softmax) and saves the per-row
// logsumexp; backward recomputes the probabilities tile by tile from it.
// Query i of sample b sees key j iff j < sep[b] (Part A, bidirectional) or j <= i (causal);
// sep == nullptr means sep = 0 everywhere (plain causal). Scale 1/sqrt(hd).
//
// bf16 in and out (tensor cores through mma.sync, f32 accumulation and softmax); hd <= 128 and a
// multiple of 8. Grouped kv heads: query head h uses kv head h / (nh / nkv).
// Tensors are addressed by strides (in elements), so GLM's interleaved qkv [B, S, nh, 3, hd]
// and separate q / k / v buffers are both read in place: element (b, s, head, d) of a
// tensor lies at ptr + b * batch + s * tok + head * head_stride + d. Strides and pointers
// must be multiples of 8 elements (16-byte rows).
#include "core/cuda/allocator.h"
#include "core/dtype.h"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace glm3d::cuda {

struct AttnView {
  int64_t batch, tok, head;
};

struct AttnShape {
  int64_t B, S, nh, nkv, hd;
};

// out (view ov) = softmax(mask(q k^T / sqrt(hd))) v;  lse [B, nh, S] f32 (saved for backward).
void flash_attention_forward(const bf16* q, const bf16* k, const bf16* v, const AttnView& qv,
                             const AttnView& kv, const int32_t* sep, bf16* out, const AttnView& ov,
                             float* lse, const AttnShape& s, cudaStream_t stream);

// dq (view qv), dk, dv (view kv): overwrite. dout and out share the view ov.
void flash_attention_backward(const bf16* dout, const bf16* q, const bf16* k, const bf16* v, const bf16* out,
                              const float* lse, const AttnView& qv, const AttnView& kv, const AttnView& ov,
                              const int32_t* sep, bf16* dq, bf16* dk, bf16* dv, const AttnShape& s,
                              DeviceAllocator& alloc, cudaStream_t stream);

// GLM layouts of core/cpu/attention.h: qkv, dqkv [B, S, nh, 3, hd]; out, dout [B, S, nh, hd];
// lse [B, nh, S] in place of the CPU's probs.
void glm_attention_forward(const bf16* qkv, const int32_t* sep, bf16* out, float* lse, int64_t B, int64_t S,
                           int64_t nh, int64_t hd, cudaStream_t stream);
void glm_attention_backward(const bf16* dout, const bf16* qkv, const bf16* out, const float* lse,
                            const int32_t* sep, bf16* dqkv, int64_t B, int64_t S, int64_t nh, int64_t hd,
                            DeviceAllocator& alloc, cudaStream_t stream);

} // namespace glm3d::cuda
