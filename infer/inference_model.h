#pragma once
// One rank's share of a GLM for generation: the layers of its pipeline stage, split over the
// tensor-parallel group as in training (model/param_table.h: qkv and dense_h_to_4h by rows,
// dense and dense_4h_to_h by columns, the embedding by vocabulary rows), computing over a KV
// cache (infer/kv_cache.h). Prefill (a whole prompt) and decode (one token per sequence) are
// the same call: a step of new tokens per sequence, packed one sequence after another.
//
// Per layer (T new tokens of the step, H hidden, Hl = H / tp, alpha = DeepNorm's):
//   h   = LN1(x)                                         [T, H]
//   qkv = h Wqkv^T + b  -> RoPE (position, block)        [T, 3Hl] = [T, heads/tp, 3, hd]
//   k, v -> cache rows; per sequence: attention of its new queries over its cached keys,
//        query at position p sees keys [0, max(sep, p + 1)) (GLM mask; flash_attention_cached)
//   x1  = h * alpha + allreduce_tp(ctx Wo^T) + bo        [T, H]
//   h2  = LN2(x1);  out = h2 * alpha + allreduce_tp(act(h2 Wup^T + bup) Wdown^T) + bdown
// ChatGLM2/3 (model/config.h): RMSNorm, pre-norm residuals (x1 = x + attn(norm1(x)), out = x1 +
// ffn(norm2(x1))), qkv rows [Q (heads/tp hd) | K (g hd) | V (g hd)] with g = max(1, groups/tp)
// key/value groups per rank (replicated when tp > groups, as in training) and only those g in
// the cache, half-interleaved RoPE by 1-D positions, the causal mask, SwiGLU, the untied head
// `output_layer.weight`, biases where the config has them.
// First stage: x = allreduce_tp(embedding(tokens)). Last stage: final norm of each sequence's
// last new token, logits = hf E^T over this rank's vocabulary rows (E the embedding, or the
// untied output layer), all-gathered over tp.
//
// Weights: the 1-D parameters and the embedding in f32; the four matrices of each layer as
// LinearWeight (f32, bf16, int8, int4 or nf4).
#include "infer/kv_cache.h"
#include "infer/linear_weight.h"
#include "model/config.h"
#include "model/param_table.h"
#include "parallel/communicator.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace glm3d {

// The four matrices of a layer, in model/param_table.h's k_layer_matrices order.
enum LinearIndex { k_qkv = 0, k_dense = 1, k_up = 2, k_down = 3 };

// The new tokens of one forward call. B sequences; their tokens packed in sequence order,
// T = sum(count).
struct StepBatch {
  std::vector<int64_t> row;    // [B] cache row of the sequence
  std::vector<int64_t> first;  // [B] cache slot of the sequence's token 0 (left padding before it)
  std::vector<int64_t> cached; // [B] tokens of the sequence already in the cache
  std::vector<int64_t> count;  // [B] new tokens (slots first + cached ... + count - 1)
  std::vector<int32_t> sep;    // [B] context length: the keys every query sees (GLM Part A)
  std::vector<int32_t> tokens, position, block; // [T] ids, position ids, block position ids
  int64_t size() const { return int64_t(row.size()); }
  int64_t total() const { return int64_t(tokens.size()); }
};

class InferenceModel {
public:
  // plan: one chunk of layers (no interleaving), tp and tp_rank; has_embedding on the first and
  // the last stage (ParamTable puts the tied head, or output_layer, on the last).
  InferenceModel(const ModelConfig& cfg, const StagePlan& plan, Communicator& tp);
  ~InferenceModel();

  const ModelConfig& config() const { return cfg_; }
  const StagePlan& plan() const { return plan_; }
  const ParamTable& table() const { return table_; }
  int first_layer() const { return plan_.chunks[0].first; }
  int num_layers() const { return plan_.chunks[0].second; }
  bool has_input() const { return first_layer() == 0; }
  bool has_head() const { return first_layer() + num_layers() == cfg_.num_layers; }

  // A 1-D parameter or the embedding (f32, table's local shape); nullptr for a layer matrix.
  float* float_param(const ParamInfo& p);
  LinearWeight& linear(int layer, LinearIndex i);
  const LinearWeight& linear(int layer, LinearIndex i) const;
  // Every weight from a flat f32 buffer laid out by table() (GlmModel's layout); the layers'
  // matrices stored as `format`. Quantizing here quantizes the shard itself, so quantized
  // formats need tp 1 (a quantized checkpoint gives every layout the same weights).
  void set_weights(const float* flat, WeightFormat format);

  int64_t float_bytes() const { return int64_t(floats_.capacity() * sizeof(float)); }
  int64_t linear_bytes() const; // the matrices of every layer, as stored

  // A cache for `rows` sequences of up to `slots` tokens, for this stage's layers.
  KvCache make_cache(int64_t rows, int64_t slots) const;

  // This stage's layers over the step's new tokens. x [T, H]: the previous stage's output, or
  // ignored on the first stage (the tokens are embedded); overwritten with this stage's output.
  void forward(const StepBatch& step, KvCache& cache, std::vector<float>& x);
  // Last stage, after forward: the logits of each sequence's last new token over the real
  // vocabulary, identical on every tp rank. out [B, vocab].
  void logits(const StepBatch& step, const float* x, float* out);

private:
  struct Layer;
  struct Scratch;
  void embed(const StepBatch& step, float* x);
  void layer_forward(int local, const StepBatch& step, KvCache& cache, float* x);
  void rope(const StepBatch& step, float* qkv);
  void attention(int local, const StepBatch& step, KvCache& cache, float* qkv, float* ctx);
  void tp_sum(float* buf, int64_t n);
  // LayerNorm (w, b) or RMSNorm (w) of N rows [N, H] -> y, by cfg_.norm.
  void norm(const float* x, const float* w, const float* b, float* y, int64_t N);
  int64_t kv_heads_local() const; // key/value heads of this tp rank (the cache's heads)

  ModelConfig cfg_;
  StagePlan plan_;
  ParamTable table_;
  Communicator& tp_;
  std::vector<float> floats_;                        // 1-D parameters and the embedding
  std::vector<int64_t> float_at_;                    // per table entry: offset into floats_, -1 for a matrix
  std::vector<std::array<LinearWeight, 4>> linears_; // [local layer][LinearIndex]
  std::vector<Layer> layers_;
  std::unique_ptr<Scratch> scratch_;
};

} // namespace glm3d
