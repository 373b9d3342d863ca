#include "model/memory_model.h"

#include <algorithm>
#include <cstdio>

namespace glm3d {

namespace {
constexpr int64_t kF32 = 4;

// The dense f32 attention backward stages dP for a group of heads in a buffer of at most 2^24
// floats (core/cpu/attention.cpp, kStageFloats), at least one head's S x S.
int64_t dense_stage_bytes(int64_t heads, int64_t S) {
  const int64_t per_head = S * S;
  const int64_t hg = std::clamp<int64_t>((int64_t(1) << 24) / std::max<int64_t>(per_head, 1), 1, heads);
  return kF32 * hg * per_head;
}

struct LayerDims {
  int64_t N, H, Hl, nhl, Ul, Fl, W; // W: the local query_key_value width (Q, K, V of local heads)
};
LayerDims dims_of(const ModelConfig& c, int tp, int64_t B, int64_t S) {
  const int64_t nhl = c.num_heads / tp, ngl = c.packed_qkv() ? std::max<int64_t>(1, c.kv_heads() / tp) : nhl;
  return {B * S,
          c.hidden,
          c.hidden / tp,
          nhl,
          c.ffn_up_width() / tp,
          c.ffn_hidden / tp,
          (nhl + 2 * ngl) * c.head_dim()};
}

// Everything GlmModel::LayerActs holds after a layer's forward without recomputation:
//   x, x1 [N, H] f32 (LayerNorm inputs); mean/rstd [N] x 2 f32;
//   h, h2 [N, H]; qkv [N, W] after RoPE; ctx [N, Hl]; u [N, Ul]; act [N, Fl]  (a bytes each:
//   the matmul inputs, bf16 under bf16);
//   attention state: dense probs [B, nhl, S, S] f32, or flash log-sum-exp [B, nhl, S] f32.
int64_t full_layer_bytes(const LayerDims& d, int64_t B, int64_t S, const ExecPolicy& p, bool with_probs) {
  const int64_t a = p.bf16() ? 2 : 4;
  int64_t bytes = kF32 * (2 * d.N * d.H + 4 * d.N);
  bytes += a * (2 * d.N * d.H + d.N * d.W + d.N * d.Hl + d.N * d.Ul + d.N * d.Fl);
  if (p.attention == AttentionImpl::flash)
    bytes += kF32 * d.N * d.nhl;
  else if (with_probs)
    bytes += kF32 * B * d.nhl * S * S;
  return bytes;
}

} // namespace

int64_t layer_activation_bytes(const ModelConfig& c, int tp, int64_t B, int64_t S, const ExecPolicy& p) {
  const LayerDims d = dims_of(c, tp, B, S);
  switch (p.recompute) {
  case Recompute::full:
    return kF32 * d.N * d.H; // the layer input only
  case Recompute::selective:
    return full_layer_bytes(d, B, S, p, /*with_probs=*/false);
  case Recompute::none:
    break;
  }
  return full_layer_bytes(d, B, S, p, /*with_probs=*/true);
}

// ChunkActs of the head: final_x [N, H] f32 (its head rows moved to the front, the buffer kept);
// over the R head rows hf [R, H] (bf16 under bf16), mean, rstd [R], probs [R, Vpad/tp] f32.
// Under full recomputation only final_x.
int64_t head_activation_bytes(const ModelConfig& c, int tp, int64_t padded_vocab, int64_t B, int64_t S,
                              const ExecPolicy& p, int64_t head_rows) {
  const int64_t N = B * S, R = head_rows;
  if (p.recompute == Recompute::full)
    return kF32 * N * c.hidden;
  return kF32 * (N * c.hidden + 2 * R + R * (padded_vocab / tp)) + (p.bf16() ? 2 : 4) * R * c.hidden;
}

// The buffers one layer's forward and backward use (GlmModel::Scratch, see glm_layer.cpp):
// h, h2 [N, H]; wide [N, max(W, Ul)] (bf16: qkv and u; f32: dqkv); act [N, Fl]; extra
// [N, max(H, Ul)] for gated FFNs, [N, H] otherwise; small [N, Hl]; under bf16 the flash
// gradients [N, Hl + W] in bf16 and the rounded output gradient of the widest linear [N, max] in
// bf16 (one buffer per thread, kept at its largest size: with the LM head, [head rows, Vl]); the
// chunk's x, y or dx, dy [N, H]; on a CPU without a bf16 matmul, the widened blocks of the
// largest bf16 operand (a weight, an activation, the head's weight or logit chunk). Dense attention adds its
// backward staging buffer. Under full recomputation one layer's complete activations are rebuilt in backward.
int64_t layer_workspace_bytes(const ModelConfig& c, int tp, int64_t B, int64_t S, const ExecPolicy& p,
                              int64_t head_vocab, int64_t head_rows) {
  const LayerDims d = dims_of(c, tp, B, S);
  const bool gated = d.Ul != d.Fl;
  const int64_t widest = std::max({d.H, d.Ul, d.W});
  const int64_t chunk_rows =
      head_vocab > 0 ? head_chunk_rows(head_rows, head_vocab) : 0; // [rows, Vl] at a time
  int64_t bytes = kF32 * d.N *
                  (2 * d.H + std::max(d.W, p.bf16() ? d.Ul : 0) + d.Fl + (gated ? std::max(d.H, d.Ul) : d.H) +
                   d.Hl + 2 * d.H);
  if (p.bf16()) { // + the operand blocks widened to f32 where this CPU has no bf16 matmul
    const int64_t widest_all = std::max({widest, d.Fl, d.Hl});
    const int64_t operand =
        std::max({d.N * widest_all, d.H * widest_all, chunk_rows * head_vocab, head_vocab * d.H});
    bytes += 2 * (d.N * (d.Hl + d.W) + std::max(d.N * widest, chunk_rows * head_vocab)) +
             cpu::bf16_widening_bytes(operand);
  }
  if (p.recompute == Recompute::full) // the head's logits, one chunk at a time
    bytes += kF32 * chunk_rows * head_vocab;
  if (p.attention == AttentionImpl::dense)
    bytes += dense_stage_bytes(d.nhl, S) + k_dense_attention_code_bytes;
  if (p.recompute == Recompute::full)
    bytes += full_layer_bytes(d, B, S, p, /*with_probs=*/true);
  else if (p.recompute == Recompute::selective && p.attention == AttentionImpl::dense)
    bytes += kF32 * B * d.nhl * S * S; // one layer's recomputed probabilities
  return bytes;
}

RankMemory model_state_bytes(int64_t elems, int64_t shard, const ExecPolicy& p) {
  RankMemory m;
  m.weights = (p.bf16() ? 2 : kF32) * elems;
  m.grads = kF32 * elems;
  m.optimizer = (p.bf16() ? 3 : 2) * kF32 * shard; // (master,) m, v
  return m;
}

RankMemory frozen_base_state_bytes(int64_t base_elems, int64_t adapter_elems, int64_t adapter_shard,
                                   const ExecPolicy& p) {
  RankMemory m = model_state_bytes(adapter_elems, adapter_shard, ExecPolicy{}); // f32 adapters
  m.weights += (p.bf16() ? 2 : kF32) * base_elems;
  return m;
}

int64_t lora_activation_bytes(const AdapterSpec& a, int64_t N) {
  return a.lora() ? kF32 * N * a.lora_r * int64_t(a.lora_targets.size()) : 0;
}

// P-tuning (model/glm_prefix.cpp): per layer, what the P prefix rows add to what a layer keeps:
// qkv over [B, P+S] rows, the attention output over them (ctx_ext, besides ctx), the longer
// log-sum-exp or probabilities; nothing under full recomputation (the layer input only).
int64_t prefix_activation_bytes(const ModelConfig& c, int tp, int64_t B, int64_t S, const AdapterSpec& a,
                                const ExecPolicy& p) {
  if (!a.prefix() || p.recompute == Recompute::full)
    return 0;
  const LayerDims d = dims_of(c, tp, B, S);
  const int64_t P = a.pre_seq_len, L = P + S, e = p.bf16() ? 2 : 4;
  int64_t bytes = e * (B * P * d.W + B * L * d.Hl);
  if (p.attention == AttentionImpl::flash)
    bytes += kF32 * B * P * d.nhl;
  else if (p.recompute == Recompute::none)
    bytes += kF32 * B * d.nhl * (L * L - S * S);
  return bytes;
}

int64_t nf4_bytes(int64_t numel) {
  const int64_t blocks = (numel + 63) / 64, groups = (blocks + 255) / 256;
  // codes, 8-bit absmax per block, per 256-block group its absmax (f32) and first block (i64),
  // the 256-entry map, the offset and the 16 NF4 values (quant::Nf4::bytes)
  return numel / 2 + blocks + 12 * groups + 4 * 256 + 4 + 4 * 16;
}

int64_t nf4_base_bytes(const ModelConfig& cfg, const StagePlan& plan) {
  int64_t n = 0;
  const ParamTable full(cfg, plan);
  for (const ParamInfo& p : full.params())
    if (layer_matrix_index(p.name) >= 0)
      n += nf4_bytes(p.numel());
  return n;
}

int64_t base_staging_bytes(int64_t base_elems, const ExecPolicy& p) {
  return p.bf16() ? kF32 * std::min(base_elems, k_base_staging_elems) : 0;
}

RankMemory estimate_rank_memory(const ModelConfig& cfg, const StagePlan& plan, const MemoryPolicy& pol) {
  const ParamTable table = ParamTable::of_base(cfg, plan, pol.exec.nf4_base);
  // Buffers are padded to a multiple of dp so ZeRO-1's collectives run in place.
  const auto padded = [&](int64_t n) { return (n + pol.dp - 1) / pol.dp; };
  const int64_t shard = padded(table.total());
  RankMemory m;
  if (pol.adapters.adapters()) {
    const int64_t ashard = padded(ParamTable(cfg, plan, pol.adapters).total());
    m = frozen_base_state_bytes(table.total(), ashard * pol.dp, pol.zero ? ashard : ashard * pol.dp,
                                pol.exec);
    if (pol.exec.nf4_base)
      m.weights += nf4_base_bytes(cfg, plan);
  } else {
    m = model_state_bytes(shard * pol.dp, pol.zero ? shard : shard * pol.dp, pol.exec);
  }
  const int64_t B = pol.micro_batch, S = pol.seq_len, tp = plan.tp;
  const int64_t head_rows = pol.head_rows > 0 ? std::min(pol.head_rows, B * S) : B * S;
  bool head = false;
  int64_t chunk_layers = 0;
  for (const auto& [first, count] : plan.chunks) {
    chunk_layers = std::max<int64_t>(chunk_layers, count);
    head = head || first + count == cfg.num_layers;
  }
  m.activations =
      pol.in_flight * chunk_layers *
      (layer_activation_bytes(cfg, int(tp), B, S, pol.exec) + lora_activation_bytes(pol.adapters, B * S) +
       prefix_activation_bytes(cfg, int(tp), B, S, pol.adapters, pol.exec));
  if (head)
    m.activations += pol.head_in_flight *
                     head_activation_bytes(cfg, int(tp), table.padded_vocab(), B, S, pol.exec, head_rows);
  m.workspace =
      layer_workspace_bytes(cfg, int(tp), B, S, pol.exec, head ? table.padded_vocab() / tp : 0, head_rows);
  if (pol.adapters.adapters()) // loading the base comes before any activation: the larger counts
    m.workspace = std::max(m.workspace, base_staging_bytes(table.total(), pol.exec) - m.activations - m.comm);
  if (pol.adapters.lora()) // the dropped input and its f32 copy under bf16 (model/glm_adapters.cpp)
    m.workspace += 2 * kF32 * B * S * std::max(cfg.hidden, cfg.ffn_hidden / tp);
  if (pol.adapters.prefix()) { // the layers' prefix keys/values [P, 2, w] f32, the extended qkv
    // (bf16 staging), its gradient and the padded context gradient [B, P+S, ...] f32
    const LayerDims d = dims_of(cfg, int(tp), B, S);
    const int64_t P = pol.adapters.pre_seq_len, L = P + S, w = (d.W - d.Hl) / 2;
    m.workspace += kF32 * (chunk_layers * int64_t(plan.chunks.size()) * P * 2 * w + P * cfg.hidden) +
                   kF32 * B * L * (2 * d.W + d.Hl);
  }
  // Pipeline: the received activation of every in-flight micro-batch and its gradient buffer.
  const bool pipelined = plan.chunks.size() > 1 || !head || plan.chunks.front().first != 0;
  if (pipelined)
    m.comm = 2 * pol.in_flight * kF32 * B * S * cfg.hidden;
  return m;
}

std::string format_bytes(double b) {
  char buf[32];
  if (b >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  else
    std::snprintf(buf, sizeof buf, "%.0f MB", b / 1e6);
  return buf;
}

} // namespace glm3d
