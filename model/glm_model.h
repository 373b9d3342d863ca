#pragma once
// One rank's share of a GLM: the layers of its pipeline chunks, split over the
// tensor-parallel group, with explicit forward and backward (no autograd).
//
// Weights, gradients: one flat buffer each, laid out by ParamTable (padded to buffer_elems so
// ZeRO-1's collectives run in place). Gradients are f32 (f64 in tests) and accumulate (+=)
// over micro-batches; activation gradients are overwritten. The execution policy
// (model/exec_policy.h) decides the weights' type (f32, or bf16 compute weights written by the
// optimizer from its f32 master copy), what is stored for backward and the attention kernel.
//
// Per layer (T = B*S tokens of a micro-batch, H hidden, tp ranks, Hl = H/tp,
// Ul = up width / tp, Fl = F/tp), DeepNorm as in GLM-130B:
//   h   = LN1(x)                                   [T, H]
//   qkv = h Wqkv^T + b        -> RoPE              [T, 3Hl] = [B, S, heads/tp, 3, hd]
//   ctx = attention(qkv, sep)                      [T, Hl]
//   x1  = h * alpha + allreduce_tp(ctx Wo^T) + bo  [T, H]
//   h2  = LN2(x1)
//   u   = h2 Wup^T + bup                           [T, Ul]
//   a   = gelu(u) | geglu(u)                       [T, Fl]
//   out = h2 * alpha + allreduce_tp(a Wdown^T) + bdown
// First chunk of the model: x = allreduce_tp(embedding(tokens)) (vocab-parallel).
// Last chunk: hf = LNf(x); logits = hf We^T [T, Vpad/tp]; vocab-parallel cross-entropy.
#include "core/cpu/matmul.h"
#include "data/sample.h"
#include "model/act_store.h"
#include "model/adapters.h"
#include "model/config.h"
#include "model/exec_policy.h"
#include "model/microbatch.h"
#include "model/param_store.h"
#include "model/param_table.h"
#include "model/prefix.h"
#include "model/qlora_base.h"
#include "parallel/communicator.h"

#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace glm3d {

template <class T> class GlmModel {
public:
  // buffer_elems: length of the weight and gradient buffers, at least table().total() (0: that).
  // base_grads false: no gradient buffer for the weights (eval, or a base frozen for adapters:
  // it would be freed by attach_adapters but would have raised the peak first).
  GlmModel(const ModelConfig& cfg, const StagePlan& plan, Communicator& tp_comm, const ExecPolicy& exec = {},
           int64_t buffer_elems = 0, bool base_grads = true);
  ~GlmModel();

  const ModelConfig& config() const { return cfg_; }
  const ParamTable& table() const { return table_; }
  const StagePlan& plan() const { return plan_; }
  const ExecPolicy& exec() const { return exec_; }
  // Weights as T (f32/f64 precision; nullptr under bf16) or as bf16 (nullptr otherwise).
  T* params() { return params_.empty() ? nullptr : params_.data(); }
  const T* params() const { return params_.empty() ? nullptr : params_.data(); }
  bf16* weights_bf16() { return wb_.empty() ? nullptr : wb_.data(); }
  T* grads() { return grads_.empty() ? nullptr : grads_.data(); } // nullptr: frozen base
  const T* grads() const { return grads_.empty() ? nullptr : grads_.data(); }
  int64_t num_params() const { return table_.total(); }
  int64_t buffer_elems() const { return buffer_elems_; }
  // Writes weights [begin, end) of the flat buffer from values (rounded under bf16), then
  // refreshes what is derived from them. After a collective wrote the buffers directly
  // (ZeRO-1's all-gather), call weights_changed().
  void set_weights(const T* values, int64_t begin, int64_t end);
  void weights_changed();
  void init(uint64_t seed); // counter-based init of every weight, layout independent
  void zero_grads();

  // Fine-tuning (model/adapters.h): LoRA adapters and/or the P-tuning v2 prefix encoder of this
  // rank's share, f32 (f64 in tests), with their own flat buffers (padded to buffer_elems) and
  // counter-based init from seed. With adapters the base is frozen: its gradients are neither
  // allocated nor computed.
  void attach_adapters(const AdapterSpec& spec, int64_t buffer_elems, uint64_t seed);
  const AdapterSpec* adapters() const { return spec_.method == FinetuneMethod::none ? nullptr : &spec_; }
  bool base_frozen() const { return spec_.adapters(); }
  const ParamTable& adapter_table() const { return *atable_; }
  T* adapter_params() { return aparams_.data(); }
  T* adapter_grads() { return agrads_.data(); }
  // QLoRA (exec().nf4_base): this rank's NF4 shards of the base's layer matrices, which the
  // loader sets before the first forward (model/qlora_base.h).
  QloraBase& nf4_base() { return *qbase_; }
  // What an optimizer updates: the base weights, or the adapters (T = float).
  ParamStore base_store();
  ParamStore adapter_store();
  // Dropout (LoRA, prefix) draws from (seed, step, ...): the trainer sets the step; eval turns it off.
  void set_step(int64_t step) { step_ = step; }
  bool training = true;

  int num_chunks() const { return int(plan_.chunks.size()); }
  bool chunk_has_input_embedding(int chunk) const { return plan_.chunks[chunk].first == 0; }
  bool chunk_has_head(int chunk) const;
  // Elements of the activation passed between pipeline stages for one micro-batch: [B, S, H].
  int64_t activation_size(int microbatch) const;

  // The step's micro-batches (kept by pointer) and the loss weight: 1 / (target tokens
  // in the global batch), so that the summed loss is the mean over all target tokens.
  void set_batch(const std::vector<MicroBatch>* mbs, double loss_weight);
  // in: [B,S,H] from the previous stage (ignored by the embedding chunk);
  // out: [B,S,H] to the next stage (ignored by the head chunk).
  void forward(int chunk, int microbatch, const T* in, T* out);
  // dout: [B,S,H] from the next stage (ignored by the head chunk);
  // din: [B,S,H] to the previous stage (ignored by the embedding chunk; may be null there).
  void backward(int chunk, int microbatch, const T* dout, T* din);
  // Sum of weighted target losses of the micro-batches run through the head since set_batch.
  double loss_sum() const { return loss_sum_; }
  // Bytes allocated for weights (and their f32 mirror of 1-D parameters under bf16), gradients
  // and adapters (and a QLoRA base's quantized matrices).
  int64_t state_bytes() const {
    return int64_t((params_.capacity() + vec_.capacity() + grads_.capacity() + aparams_.capacity() +
                    agrads_.capacity()) *
                       sizeof(T) +
                   wb_.capacity() * sizeof(bf16)) +
           (qbase_ ? qbase_->bytes() : 0);
  }
  // Bytes of activations held for backward right now (all chunks and micro-batches in flight).
  int64_t activation_bytes_held() const;
  // Called after each layer's backward with (layer, microbatch): the data-parallel
  // reducer uses it to start bucket all-reduces as soon as a layer's grads are final.
  std::function<void(int layer, int microbatch)> on_layer_backward_done;
  // GLM-130B's embedding gradient shrink: the input lookup's contribution to the word
  // embedding gradient is scaled by this (x*a + x.detach()*(1-a)); the tied head's is not.
  double embedding_grad_shrink = 1.0;
  // Called by the head chunk's forward with the micro-batch's logits of this rank's vocabulary
  // slice, [B*S, padded_vocab/tp], before the loss (glm3d eval writes them out).
  std::function<void(int microbatch, const T* logits)> on_logits;

private:
  struct LayerActs;
  struct ChunkActs;
  struct Weights;
  struct Scratch;
  Weights layer_weights(int layer);
  T* vector_param(const ParamInfo& p); // a 1-D parameter as T (the f32 mirror under bf16)
  MatIn<T> matrix_param(const ParamInfo& p) const;
  MatIn<T> layer_matrix(int layer, int k) const; // k_layer_matrices[k]: float or NF4 (QLoRA)
  void layer_forward(int layer, const MicroBatch& mb, const T* x, T* out, LayerActs& a);
  void layer_backward(int layer, const MicroBatch& mb, const T* dout, T* dx, LayerActs& a);
  void attention_forward(const MicroBatch& mb, T* qkv, LayerActs& a);
  void attention_core(const MicroBatch& mb, const T* qkv, LayerActs& a); // the kernel over attn_len rows
  void attention_backward(const MicroBatch& mb, const T* dctx, LayerActs& a, T* dqkv);
  void keep_for_backward(LayerActs& a) const; // drops what the recompute policy recomputes
  const int32_t* mask_seps(const MicroBatch& mb);
  void norm_forward(const T* x, const T* w, const T* b, T* y, std::vector<T>& mean, std::vector<T>& rstd,
                    int64_t N);
  void norm_backward(const T* dy, const T* x, const T* w, const std::vector<T>& mean,
                     const std::vector<T>& rstd, T* dx, T* dw, T* db, int64_t N, bool accumulate);
  void ffn_activation(const T* u, T* act, int64_t N);
  // LoRA on layer l's linear module m (model/lora.h): forward adds to y, backward to the
  // adapters' gradients and dx.
  void lora_forward(int l, int m, MatIn<T> x, T* y, int64_t in, int64_t out, const MicroBatch& mb,
                    LayerActs& a);
  void lora_backward(int l, int m, MatIn<T> x, const T* dy, T* dx, int64_t in, int64_t out,
                     const MicroBatch& mb, LayerActs& a);
  // The rows the LM head runs on (model/head_rows.h): n rows, their targets and loss mask.
  struct HeadView {
    int64_t n;
    const int32_t* targets;
    const uint8_t* mask;
  };
  HeadView head_view(const MicroBatch& mb, const ChunkActs& ca) const;
  void head_select_rows(const MicroBatch& mb, ChunkActs& ca);
  void head_norm(int64_t n, ChunkActs& ca);
  void head_rows(const HeadView& hv, const ChunkActs& ca, int64_t r0, int64_t n, T* probs, T* losses,
                 bool logits_only);
  void head_ce_rows(const HeadView& hv, int64_t r0, int64_t n, T* probs, T* losses);
  // P-tuning v2 (model/prefix.h, glm_prefix.cpp): every layer's attention runs over P + S keys,
  // the prefix's first (queries at P + i, mask Part A widened by P, so every token sees the whole
  // prefix); the P rows before each sample's tokens hold zero queries, and their outputs and
  // query gradients are dropped.
  void prefix_prepare(); // at set_batch: the encoder's slices of this rank's layers
  PrefixEncoderRef<T> prefix_encoder();
  PrefixSlice prefix_slice(int layer) const;
  int64_t attn_len(const MicroBatch& mb) const { return mb.S + (spec_.prefix() ? spec_.pre_seq_len : 0); }
  T* prefix_extend(int l, const MicroBatch& mb, const T* qkv, LayerActs& a); // a.qkv <- [B, P+S, W]
  void prefix_strip_ctx(const MicroBatch& mb, LayerActs& a);                 // a.ctx <- a.ctx_ext's rows
  const T* prefix_pad_dctx(const MicroBatch& mb, const T* dctx);             // [B, P+S, Hl], zero prefix rows
  void prefix_backward(int l, const MicroBatch& mb, const T* dext, T* dqkv); // encoder grads; dqkv's rows
  uint64_t prefix_dropout_key(int l) const;
  double prefix_keep(uint64_t key, const MicroBatch& mb, int64_t b, int64_t p, int64_t col) const;
  void head_forward(int microbatch, const MicroBatch& mb, std::vector<T>&& x, ChunkActs& ca);
  void head_backward(const MicroBatch& mb, ChunkActs& ca, T* dx);
  void tp_sum(T* buf, int64_t n);

  ModelConfig cfg_;
  StagePlan plan_;
  ParamTable table_;
  Communicator& tp_;
  ExecPolicy exec_;
  int64_t buffer_elems_ = 0;
  std::vector<T> params_;              // [buffer_elems] f32/f64 weights
  std::vector<bf16> wb_;               // [buffer_elems] bf16 compute weights
  std::vector<T> vec_;                 // bf16: the 1-D parameters widened, packed
  std::vector<int64_t> vec_at_;        // per table entry: offset into vec_, -1 for matrices
  std::vector<T> grads_;               // [buffer_elems]; empty when the base is frozen
  AdapterSpec spec_;                   // method none: no adapters
  std::unique_ptr<ParamTable> atable_; // the adapters' table
  std::unique_ptr<QloraBase> qbase_;   // exec_.nf4_base: the quantized layer matrices
  std::vector<T> aparams_, agrads_;    // [adapter buffer]
  int64_t abuffer_elems_ = 0;
  int64_t step_ = 0;
  std::vector<T> prefix_t_;                 // [P, H] the encoder's tanh output (projection)
  std::map<int, std::vector<T>> prefix_kv_; // layer -> [P, 2, w] this rank's prefix keys, values
  std::unique_ptr<Scratch> scratch_;        // per-call buffers reused across layers
  const std::vector<MicroBatch>* mbs_ = nullptr;
  double loss_weight_ = 0, loss_sum_ = 0;
  std::map<std::pair<int, int>, std::unique_ptr<ChunkActs>> acts_; // (chunk, microbatch) in flight
};

// The stage plan of a single-rank model holding every layer.
StagePlan single_rank_plan(const ModelConfig& cfg);

} // namespace glm3d
