#pragma once
// Bytes one rank holds while training: the model state (weights, gradients, master weights and
// optimizer state) from the rank's own ParamTable, and the activations the model keeps per
// layer per micro-batch, counted from the buffers GlmModel really allocates for the execution
// policy (precision, recomputation, attention kernel). The trainer's start-up check and memory
// report, `glm3d bench slice` and the planner all use these functions, so a change of what the
// model stores changes all of them.
//
// Model state per parameter (Megatron's accounting):
//   f32:  weights 4 + gradients 4 + Adam m, v 8 (sharded over dp under ZeRO-1)
//   bf16: weights 2 + gradients 4 (f32) + master, m, v 12 (sharded over dp under ZeRO-1)
// A frozen base (LoRA, P-tuning) holds its weights only (4 or 2 bytes); QLoRA's base holds its
// four layer matrices in NF4 (about 0.516 bytes per parameter) and the rest as the precision says.
#include "model/adapters.h"
#include "model/exec_policy.h"
#include "model/param_table.h"

#include <algorithm>
#include <cstdint>
#include <string>

namespace glm3d {

struct MemoryPolicy {
  ExecPolicy exec;
  int dp = 1;                 // data-parallel size (ZeRO-1 shards optimizer state over it)
  bool zero = false;          // ZeRO-1 (Megatron's distributed optimizer)
  int64_t micro_batch = 1;    // B
  int64_t seq_len = 0;        // S
  int64_t in_flight = 1;      // (micro-batch, chunk) activation sets held at the peak (schedule)
  int64_t head_in_flight = 1; // the same for the chunk with the LM head
  // Rows of a micro-batch that carry loss, the rows the LM head runs on in training
  // (model/head_rows.h). 0: all B x S, the bound for data not known in advance (a causal-LM
  // batch has loss on every row); the trainer knows it for its synthetic task.
  int64_t head_rows = 0;
  AdapterSpec adapters; // fine-tuning with adapters: the base is frozen (weights only)
};

struct RankMemory {
  int64_t weights = 0, grads = 0, optimizer = 0; // model state (optimizer: master + moments)
  int64_t activations = 0;                       // stored for backward, at the schedule's peak
  int64_t workspace = 0;                         // transient buffers of one layer's backward
  int64_t comm = 0;                              // pipeline receive buffers
  int64_t model_state() const { return weights + grads + optimizer; }
  int64_t total() const { return model_state() + activations + workspace + comm; }
};

// Bytes stored per transformer layer per micro-batch of B x S tokens on a tp rank.
int64_t layer_activation_bytes(const ModelConfig& cfg, int tp, int64_t B, int64_t S, const ExecPolicy& p);
// The head chunk's extra activations (final LayerNorm input and output, local-vocabulary logits).
// Rows of the micro-batch the LM head and cross-entropy process at a time: 2^22 logits (16 MB
// in f32) of the local vocabulary slice Vl, but at least k_head_min_rows rows, and at most N.
// The floor is for speed: oneDNN packs the whole [Vl, H] weight for every product, so chunks of
// a few rows pay for that packing again and again. benchmarks/bench_kernels.cpp BM_HeadChunks
// (the peer model's head, 2048 tokens, vocab 32000, bf16, AMX, 2 threads): 683 ms a micro-batch
// in chunks of 131 rows (2^22 logits), 449 ms in chunks of 512, 448 in 1024, 434 in 2048.
inline constexpr int64_t k_head_min_rows = 512;
inline int64_t head_chunk_rows(int64_t N, int64_t Vl) {
  const int64_t by_logits = (int64_t(1) << 22) / std::max<int64_t>(Vl, 1);
  return std::clamp<int64_t>(std::max(by_logits, k_head_min_rows), 1, std::max<int64_t>(N, 1));
}

// head_rows: the rows of the micro-batch the head runs on (1 .. B x S).
int64_t head_activation_bytes(const ModelConfig& cfg, int tp, int64_t padded_vocab, int64_t B, int64_t S,
                              const ExecPolicy& p, int64_t head_rows);
// Transient bytes of one layer's forward and backward (scratch, gradients, the recomputed
// activations under full recomputation, the attention kernel's scratch). head_vocab: the local
// vocabulary Vl on the rank with the LM head (its logit gradient is rounded to bf16), else 0;
// head_rows: the rows the head runs on (1 .. B x S; read only with a head_vocab).
int64_t layer_workspace_bytes(const ModelConfig& cfg, int tp, int64_t B, int64_t S, const ExecPolicy& p,
                              int64_t head_vocab, int64_t head_rows);
// Model-state bytes of `elems` parameters on this rank, `shard` of them in the optimizer.
RankMemory model_state_bytes(int64_t elems, int64_t shard, const ExecPolicy& p);
// A frozen base's weights (no gradients, no optimizer) plus its adapters' f32 weights,
// gradients and AdamW state (`shard` of `elems` adapter parameters in this rank's optimizer).
RankMemory frozen_base_state_bytes(int64_t base_elems, int64_t adapter_elems, int64_t adapter_shard,
                                   const ExecPolicy& p);
// A bf16 frozen base is read from its f32 checkpoint through an f32 staging buffer of at most
// k_base_staging_elems elements (train/train_job.cpp, load_frozen_base), before any activation
// exists: its bytes on this rank (0 for an f32 base, read in place).
inline constexpr int64_t k_base_staging_elems = int64_t(1) << 24; // 64 MB
int64_t base_staging_bytes(int64_t base_elems, const ExecPolicy& p);
// NF4 with double quantization of a matrix (or shard) of numel elements: 0.5 byte per element
// for the codes, 1 per 64 for the absmax codes, 12 per 16384 for the second level, and the maps.
int64_t nf4_bytes(int64_t numel);
// QLoRA (exec.nf4_base): the NF4 bytes of this rank's layer matrices (model/qlora_base.h).
int64_t nf4_base_bytes(const ModelConfig& cfg, const StagePlan& plan);
// LoRA's per-layer activations (z [N, r] f32 per target) and its transient input copies.
int64_t lora_activation_bytes(const AdapterSpec& a, int64_t N);
// P-tuning: what one layer's P prefix rows add to its kept activations (model/memory_model.cpp).
int64_t prefix_activation_bytes(const ModelConfig& c, int tp, int64_t B, int64_t S, const AdapterSpec& a,
                                const ExecPolicy& p);

RankMemory estimate_rank_memory(const ModelConfig& cfg, const StagePlan& plan, const MemoryPolicy& pol);

// Fixed cost of a training process besides what the functions above count (binary, libraries,
// MPI's shared-memory segments, OpenMP, oneDNN's kernels): VmHWM minus the counted bytes of
// 1- and 8-rank runs of tiny and small, Debian 12 (Open MPI 4.1.4, oneDNN 2.6.3, HDF5 1.10),
// measured 32-38 MB.
inline constexpr int64_t k_process_baseline_bytes = 33ll << 20;
// oneDNN's generated kernels and scratchpads of the dense attention's batched f32 matmuls
// (measured: +4-6 MB over the same runs with flash attention).
inline constexpr int64_t k_dense_attention_code_bytes = 4ll << 20;

std::string format_bytes(double bytes); // "1.23 GB", "512 MB"

} // namespace glm3d
