#pragma once
// Softmax attention without the S x S matrix: tiles of queries x keys with an online softmax
// (FlashAttention-2 on the CPU). Only per-row statistics (the logsumexp of each query's
// scores) are kept for backward, which recomputes the scores tile by tile.
//
// Mask: query i of sample b sees key j iff j < sep[b] (GLM Part A, bidirectional) or j <= i
// (causal); sep == nullptr is the plain causal mask (sep 0). sep is clamped to [0, S]. A tile
// no query of which sees any of its keys is skipped: query block [i0, i1) multiplies only the
// key blocks starting below max(sep, i1).
//
// Heads: nh query heads, ng key/value groups (ng divides nh); query head h uses group
// h / (nh / ng). ng == nh is plain multi-head attention, ng == 1 multi-query.
//
// Layouts (row-major): q, k, v and their gradients are strided views (core/cpu/head_view.h),
// e.g. interleaved_qkv (ChatGLM-6B, GLM-130B) or packed_qkv (ChatGLM2/3 [Q | K | V]).
//   out, dout [B, S, nh, hd]
//   lse       [B, nh, S]      log sum_j exp(score_ij) of each query, scores = q.k / sqrt(hd)
//
// Types: T = double (reference, own loops), float (oneDNN f32 tiles) or bf16 (q, k, v, out,
// dout and the gradients stored in bf16; scores, softmax and statistics in f32; the tiles are
// multiplied in bf16 with f32 accumulation, the probabilities and their gradients rounded to
// bf16 as inputs of the second product of each pair as FlashAttention does on GPUs, or widened
// to f32: FlashConfig::bf16_products).
#include "core/cpu/head_view.h"
#include "core/dtype.h"

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace glm3d::cpu {

struct FlashShape {
  int64_t B, S, nh, ng, hd;
};

// Tile sizes (queries, keys per tile). Defaults measured in benchmarks/bench_attention.cpp.
struct FlashBlocks {
  int64_t q, kv;
};
struct FlashConfig {
  FlashBlocks fwd{256, 256};
  FlashBlocks bwd{256, 128};
  // Backward runs one task per (sample, kv group, part of the group's query heads); with more
  // than one part each part sums its own dk, dv and the parts are added at the end. 0: as many
  // parts as keep every thread busy (1 when samples x groups >= threads).
  int64_t bwd_head_parts = 0;
  // bf16 calls: multiply the tiles in bf16 (f32 accumulation) or widen them to f32 and multiply
  // in f32 (storage stays bf16; the probabilities are then not rounded). automatic: bf16 where
  // oneDNN multiplies bf16 in hardware (AMX or AVX512_BF16), f32 elsewhere. On an AMD EPYC with
  // AVX512_BF16 (2 threads, brg:avx512_core_bf16) bf16 tiles ran forward + backward 1.52x the
  // f32 tiles at S 512, 16 heads of 64 and 1.74x at S 2048, 12 heads of 128
  // (benchmarks/bench_attention.cpp FlashProducts).
  enum class Bf16Products { automatic, bf16, f32 };
  Bf16Products bf16_products = Bf16Products::automatic;
};

// Accumulation and statistics type: f64 for f64, f32 for f32 and bf16.
template <class T> using flash_acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

// out, lse overwritten. Returns the number of tiles computed (summed over samples and heads),
// so a test can check that masked tiles are skipped.
template <class T>
int64_t flash_attention_forward(const QkvView<const T>& x, const int32_t* sep, T* out, flash_acc_t<T>* lse,
                                const FlashShape& shape, const FlashConfig& cfg = {});

// Attention of new queries over a key/value cache (inference): each sample has S keys and its
// last Sq positions are the queries, so query r sits at key position S - Sq + r and sees keys
// [0, max(sep[b], S - Sq + r + 1)), the mask above. x.q and out hold Sq tokens per sample
// (out [B, Sq, nh, hd]), x.k and x.v S. Sq = S is a prefill (the forward without lse), Sq = 1 a
// decode step. No statistics are kept (no backward). Returns the tiles computed.
template <class T>
int64_t flash_attention_cached(const QkvView<const T>& x, const int32_t* sep, T* out, const FlashShape& shape,
                               int64_t Sq, const FlashConfig& cfg = {});

// dq, dk, dv (the views of `grad`, laid out like q, k, v) overwritten; dk and dv are summed over
// the query heads of their group. out and lse from the forward; D_i = rowsum(dout_i * out_i).
// Returns the number of tiles computed, as forward.
template <class T>
int64_t flash_attention_backward(const T* dout, const QkvView<const T>& x, const T* out,
                                 const flash_acc_t<T>* lse, const int32_t* sep, const QkvView<T>& grad,
                                 const FlashShape& shape, const FlashConfig& cfg = {});

// Scratch memory a call allocates: per_thread for each OpenMP thread, shared once. Neither
// holds an S x S matrix: forward needs O(block^2 + block hd) per thread, backward adds the
// dk, dv accumulators of one group, O(S hd).
struct FlashWorkspace {
  size_t per_thread = 0, shared = 0;
};
template <class T> FlashWorkspace flash_forward_workspace(const FlashShape& shape, const FlashConfig& cfg);
template <class T>
FlashWorkspace flash_backward_workspace(const FlashShape& shape, const FlashConfig& cfg, int threads);

} // namespace glm3d::cpu
