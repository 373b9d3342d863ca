#include "model/memory_model.h"

#include <algorithm>
#include <cstdio>

namespace glm3d {

namespace {
constexpr int64_t kF32 = 4;
// The f32 attention backward stages dP for a group of heads in a buffer of at most 2^24 floats
// (core/cpu/attention.cpp, kStageFloats), at least one head's S x S.
int64_t attention_stage_bytes(int64_t heads, int64_t S) {
  const int64_t per_head = S * S;
  const int64_t hg = std::clamp<int64_t>((int64_t(1) << 24) / std::max<int64_t>(per_head, 1), 1, heads);
  return kF32 * hg * per_head;
}
} // namespace

// GlmModel::LayerActs: x, h, x1, h2 [N, H]; mean/rstd x2 [N]; qkv [N, 3Hl]; probs [B, nhl, S, S];
// ctx [N, Hl]; u [N, Ul]; act [N, Fl].
int64_t layer_activation_bytes(const ModelConfig& c, int tp, int64_t B, int64_t S) {
  const int64_t N = B * S, H = c.hidden, Hl = H / tp, nhl = c.num_heads / tp;
  const int64_t Ul = c.ffn_up_width() / tp, Fl = c.ffn_hidden / tp;
  return kF32 * (4 * N * H + 4 * N + 4 * N * Hl + B * nhl * S * S + N * Ul + N * Fl);
}

// ChunkActs of the head: final_x, hf [N, H]; mean, rstd [N]; probs [N, Vpad/tp].
int64_t head_activation_bytes(const ModelConfig& c, int tp, int64_t padded_vocab, int64_t B, int64_t S) {
  const int64_t N = B * S;
  return kF32 * (2 * N * c.hidden + 2 * N + N * (padded_vocab / tp));
}

RankMemory estimate_rank_memory(const ModelConfig& cfg, const StagePlan& plan, const MemoryPolicy& pol) {
  const ParamTable table(cfg, plan);
  const int64_t total = table.total(), B = pol.micro_batch, S = pol.seq_len, N = B * S, H = cfg.hidden;
  const int tp = plan.tp;
  RankMemory m;
  m.weights = kF32 * total;
  m.grads = kF32 * total;
  const int64_t shard = pol.zero ? (total + pol.dp - 1) / pol.dp : total;
  m.optimizer = 2 * kF32 * shard; // Adam m and v
  bool head = false;
  int64_t chunk_layers = 0;
  for (const auto& [first, count] : plan.chunks) {
    chunk_layers = std::max<int64_t>(chunk_layers, count);
    head = head || first + count == cfg.num_layers;
  }
  m.activations = pol.in_flight * chunk_layers * layer_activation_bytes(cfg, tp, B, S);
  if (head)
    m.activations += pol.head_in_flight * head_activation_bytes(cfg, tp, table.padded_vocab(), B, S);
  // One layer's backward (GlmModel::layer_backward): dact, du, dh2, dx1, dctx, dqkv, dh, plus
  // the chunk's dx, dy and the attention staging buffer.
  const int64_t Hl = H / tp, Ul = cfg.ffn_up_width() / tp, Fl = cfg.ffn_hidden / tp;
  m.workspace = kF32 * N * (Fl + Ul + 5 * H + 4 * Hl) + attention_stage_bytes(cfg.num_heads / tp, S);
  // Pipeline: the received activation of every in-flight micro-batch and its gradient buffer.
  if (plan.chunks.size() > 1 || !head || plan.chunks.front().first != 0)
    m.comm += 2 * pol.in_flight * kF32 * N * H;
  // ZeRO-1 staging: the reduce-scatter input and the all-gather output, [dp * shard] each.
  if (pol.zero && pol.dp > 1)
    m.comm += 2 * kF32 * shard * pol.dp;
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
