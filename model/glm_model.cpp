// GlmModel: weights, chunks (embedding, layers, head) and the activations in flight. One
// transformer layer is in glm_layer.cpp.
#include "model/glm_model.h"
#include "model/memory_model.h"

#include "core/check.h"
#include "core/cpu/cross_entropy.h"
#include "core/cpu/elementwise.h"
#include "core/cpu/embedding.h"
#include "model/glm_model_impl.h"
#include "model/init.h"

#include <algorithm>
#include <cstring>

namespace glm3d {

StagePlan single_rank_plan(const ModelConfig& cfg) {
  StagePlan p;
  p.chunks = {{0, int(cfg.num_layers)}};
  p.has_embedding = true;
  return p;
}

template <class T>
GlmModel<T>::GlmModel(const ModelConfig& cfg, const StagePlan& plan, Communicator& tp_comm,
                      const ExecPolicy& exec, int64_t buffer_elems, bool base_grads)
    : cfg_(cfg), plan_(plan), table_(ParamTable::of_base(cfg, plan, exec.nf4_base)), tp_(tp_comm),
      exec_(exec), buffer_elems_(std::max(buffer_elems, table_.total())),
      scratch_(std::make_unique<Scratch>()) {
  GLM3D_CHECK(tp_comm.size() == plan.tp)
      << "tp communicator size " << tp_comm.size() << " != plan tp " << plan.tp;
  GLM3D_CHECK((!exec.bf16() || std::is_same_v<T, float>)) << "bf16 precision needs a float model";
  GLM3D_CHECK(!exec.bf16() || exec.attention == AttentionImpl::flash)
      << "bf16 precision needs flash attention";
  // The dense kernel reads q, k, v interleaved per head: [Q | K | V] rows would be misread.
  GLM3D_CHECK(!cfg.packed_qkv() || exec.attention == AttentionImpl::flash)
      << "model '" << cfg.name << "' has key/value groups: its attention needs the flash kernel";
  if (exec.bf16()) {
    wb_.assign(size_t(buffer_elems_), bf16());
    int64_t n = 0;
    for (const ParamInfo& p : table_.params()) {
      vec_at_.push_back(p.cols == 1 ? n : -1);
      n += p.cols == 1 ? p.numel() : 0;
    }
    vec_.assign(size_t(n), T(0));
  } else {
    params_.assign(size_t(buffer_elems_), T(0));
  }
  if (base_grads)
    grads_.assign(size_t(buffer_elems_), T(0));
  if (exec.nf4_base)
    qbase_ = std::make_unique<QloraBase>();
}

template <class T> GlmModel<T>::~GlmModel() = default;

template <class T> void GlmModel<T>::set_weights(const T* values, int64_t begin, int64_t end) {
  GLM3D_CHECK(begin >= 0 && begin <= end && end <= buffer_elems_)
      << "set_weights [" << begin << ", " << end << ")";
  if (exec_.bf16()) {
    if constexpr (std::is_same_v<T, float>)
      cpu::to_bf16(values, wb_.data() + begin, end - begin);
    weights_changed();
  } else {
    std::copy(values, values + (end - begin), params_.data() + begin);
  }
}

template <class T> void GlmModel<T>::weights_changed() {
  if (!exec_.bf16())
    return;
  const auto& ps = table_.params();
  for (size_t i = 0; i < ps.size(); ++i)
    if (vec_at_[i] >= 0)
      for (int64_t j = 0; j < ps[i].numel(); ++j)
        vec_[size_t(vec_at_[i] + j)] = T(float(wb_[size_t(ps[i].offset + j)]));
}

template <class T> T* GlmModel<T>::vector_param(const ParamInfo& p) {
  if (!exec_.bf16())
    return params_.data() + p.offset;
  return vec_.data() + vec_at_[size_t(&p - table_.params().data())];
}

template <class T> MatIn<T> GlmModel<T>::matrix_param(const ParamInfo& p) const {
  return exec_.bf16() ? MatIn<T>{nullptr, wb_.data() + p.offset}
                      : MatIn<T>{params_.data() + p.offset, nullptr};
}

template <class T> MatIn<T> GlmModel<T>::layer_matrix(int layer, int k) const {
  const std::string name = layer_param_name(layer, k_layer_matrices[k]);
  if (qbase_)
    return MatIn<T>{nullptr, nullptr, &qbase_->get(name)};
  return matrix_param(table_.get(name));
}

template <class T> void GlmModel<T>::init(uint64_t seed) {
  if (!exec_.bf16()) {
    init_parameters(cfg_, table_, plan_.tp_rank, seed, params_.data());
    return;
  }
  std::vector<T> one; // one tensor at a time: no full-size f32 copy
  for (const ParamInfo& p : table_.params()) {
    one.resize(size_t(p.numel()));
    for (int64_t i = 0; i < p.numel(); ++i)
      one[size_t(i)] = T(init_value(cfg_, p, seed, p.global_index(i, plan_.tp_rank)));
    if constexpr (std::is_same_v<T, float>)
      cpu::to_bf16(one.data(), wb_.data() + p.offset, p.numel());
  }
  weights_changed();
}

template <class T> void GlmModel<T>::zero_grads() {
  cpu::zero(grads_.data(), int64_t(grads_.size()));
  cpu::zero(agrads_.data(), int64_t(agrads_.size()));
}

template <class T> bool GlmModel<T>::chunk_has_head(int chunk) const {
  const auto& [first, count] = plan_.chunks[size_t(chunk)];
  return first + count == cfg_.num_layers;
}

template <class T> int64_t GlmModel<T>::activation_size(int microbatch) const {
  const MicroBatch& mb = (*mbs_)[size_t(microbatch)];
  return mb.B * mb.S * cfg_.hidden;
}

template <class T> void GlmModel<T>::set_batch(const std::vector<MicroBatch>* mbs, double loss_weight) {
  mbs_ = mbs;
  loss_weight_ = loss_weight;
  loss_sum_ = 0;
  acts_.clear();
  prefix_prepare(); // the adapters may have changed since the last batch
}

template <class T> int64_t GlmModel<T>::activation_bytes_held() const {
  int64_t n = 0;
  for (const auto& [key, ca] : acts_) {
    for (const LayerActs& a : ca->layers)
      n += a.bytes();
    n += int64_t(sizeof(T)) * int64_t(ca->final_x.capacity() + ca->meanf.capacity() + ca->rstdf.capacity() +
                                      ca->probs.capacity()) +
         ca->hf.bytes();
  }
  return n;
}

template <class T> void GlmModel<T>::tp_sum(T* buf, int64_t n) {
  if (tp_.size() > 1)
    tp_.all_reduce(buf, size_t(n), ReduceOp::sum);
}

template <class T> void GlmModel<T>::forward(int chunk, int microbatch, const T* in, T* out) {
  GLM3D_CHECK(mbs_ && microbatch < int(mbs_->size())) << "micro-batch " << microbatch << " not set";
  const MicroBatch& mb = (*mbs_)[size_t(microbatch)];
  const int64_t N = mb.B * mb.S, H = cfg_.hidden;
  auto& slot = acts_[{chunk, microbatch}];
  GLM3D_CHECK(!slot) << "forward of chunk " << chunk << " micro-batch " << microbatch << " ran twice";
  slot = std::make_unique<ChunkActs>();
  ChunkActs& ca = *slot;
  const auto [first, count] = plan_.chunks[size_t(chunk)];
  ca.layers.resize(size_t(count));

  std::vector<T> x(size_t(N * H)), y(size_t(N * H)); // [B, S, H]
  if (chunk_has_input_embedding(chunk)) {
    const ParamInfo& e = table_.get("word_embeddings.weight");
    const int64_t v0 = int64_t(plan_.tp_rank) * e.local_rows;
    const MatIn<T> table = matrix_param(e);
    if constexpr (std::is_same_v<T, float>)
      if (table.b)
        cpu::embedding_forward(mb.tokens.data(), table.b, x.data(), N, H, v0, e.local_rows);
    if (table.f)
      cpu::embedding_forward(mb.tokens.data(), table.f, x.data(), N, H, v0, e.local_rows);
    tp_sum(x.data(), N * H);
  } else {
    std::copy(in, in + N * H, x.begin());
  }
  for (int i = 0; i < count; ++i) {
    LayerActs& a = ca.layers[size_t(i)];
    layer_forward(first + i, mb, x.data(), y.data(), a);
    keep_for_backward(a);
    std::swap(x, y);
  }
  if (chunk_has_head(chunk))
    head_forward(microbatch, mb, std::move(x), ca);
  else
    std::copy(x.begin(), x.end(), out);
}

// Final norm, LM head (tied or output_layer), vocab-parallel cross-entropy, over rows of the
// micro-batch in chunks of head_chunk_rows (model/memory_model.h), so the logits of a large
// vocabulary need not exist for the whole micro-batch at once. Every recompute mode runs the same
// chunks, so their losses and gradients stay bit-identical. In training the head runs only on the
// rows that carry loss (model/head_rows.h); with on_logits (evaluation, generation) on all rows.

// The rows the head runs on: every row of the micro-batch, or the compacted rows with loss.
template <class T>
typename GlmModel<T>::HeadView GlmModel<T>::head_view(const MicroBatch& mb, const ChunkActs& ca) const {
  if (!ca.loss_rows)
    return {mb.B * mb.S, mb.targets.data(), mb.loss_mask.data()};
  const LossRows& s = *ca.loss_rows;
  return {int64_t(s.rows.size()), s.targets.data(), s.mask.data()};
}

// Training without on_logits: keeps only the rows of ca.final_x [N, H] that carry loss, moved to
// the front (when every row carries loss, nothing moves).
template <class T> void GlmModel<T>::head_select_rows(const MicroBatch& mb, ChunkActs& ca) {
  ca.loss_rows = select_loss_rows(mb);
  if (!ca.loss_rows)
    return;
  compact_rows(ca.final_x.data(), ca.loss_rows->rows, cfg_.hidden);
  ca.final_x.resize(ca.loss_rows->rows.size() * size_t(cfg_.hidden));
}

// The final norm of the head's n input rows: ca.hf [n, H], ca.meanf, ca.rstdf.
template <class T> void GlmModel<T>::head_norm(int64_t n, ChunkActs& ca) {
  const int64_t H = cfg_.hidden;
  const ParamInfo* lb = table_.find("final_layernorm.bias");
  T* hf = ca.hf.begin_write(n * H, exec_.bf16(), scratch_->h);
  norm_forward(ca.final_x.data(), vector_param(table_.get("final_layernorm.weight")),
               lb ? vector_param(*lb) : nullptr, hf, ca.meanf, ca.rstdf, n);
  ca.hf.commit(hf);
}

// Head rows [r0, r0 + n): logits [n, Vl] into probs, then probabilities; losses + r0 the per-row loss.
template <class T>
void GlmModel<T>::head_rows(const HeadView& hv, const ChunkActs& ca, int64_t r0, int64_t n, T* probs,
                            T* losses, bool logits_only) {
  const int64_t H = cfg_.hidden;
  const ParamInfo& e = table_.get(table_.head_name());
  const int64_t Vl = e.local_rows;
  linear_fwd(ca.hf.in().rows(r0, H), matrix_param(e), static_cast<const T*>(nullptr), probs, n, H, Vl);
  if (!logits_only)
    head_ce_rows(hv, r0, n, probs, losses);
}

// Head rows [r0, r0 + n) of the vocab-parallel cross-entropy: logits -> probabilities in place.
template <class T>
void GlmModel<T>::head_ce_rows(const HeadView& hv, int64_t r0, int64_t n, T* probs, T* losses) {
  const int64_t Vl = table_.get(table_.head_name()).local_rows;
  cpu::VocabReduce<T> reduce = cpu::VocabReduce<T>::local();
  if (tp_.size() > 1) {
    reduce.max = [this](T* b, int64_t k) { tp_.all_reduce(b, size_t(k), ReduceOp::max); };
    reduce.sum = [this](T* b, int64_t k) { tp_.all_reduce(b, size_t(k), ReduceOp::sum); };
  }
  cpu::vocab_parallel_ce_forward(probs, hv.targets + r0, hv.mask + r0, losses + r0, probs, n, Vl,
                                 int64_t(plan_.tp_rank) * Vl, cfg_.vocab, reduce);
}

// The head's forward: the loss. Without --recompute full, ca.probs [n, Vl] keeps every head row's
// probabilities for backward (on_logits sees the logits of the whole micro-batch first). Under
// full only the head's input is kept (the logits of a large vocabulary are the biggest
// activation of all): each chunk's logits live only while its loss is computed.
template <class T>
void GlmModel<T>::head_forward(int microbatch, const MicroBatch& mb, std::vector<T>&& x, ChunkActs& ca) {
  const int64_t Vl = table_.get(table_.head_name()).local_rows;
  ca.final_x = std::move(x);
  if (!on_logits)
    head_select_rows(mb, ca);
  const HeadView hv = head_view(mb, ca);
  const int64_t N = hv.n, C = head_chunk_rows(N, Vl);
  head_norm(N, ca);
  std::vector<T> losses(static_cast<size_t>(N));
  const bool keep = exec_.recompute != Recompute::full || on_logits;
  if (keep) {
    ca.probs.resize(size_t(N * Vl)); // [N, Vl]
    for (int64_t r0 = 0; r0 < N; r0 += C)
      head_rows(hv, ca, r0, std::min(C, N - r0), ca.probs.data() + r0 * Vl, losses.data(), bool(on_logits));
    if (on_logits) {
      on_logits(microbatch, ca.probs.data());
      for (int64_t r0 = 0; r0 < N; r0 += C) // the loss of the logits on_logits saw
        head_ce_rows(hv, r0, std::min(C, N - r0), ca.probs.data() + r0 * Vl, losses.data());
    }
  } else {
    std::vector<T> chunk(size_t(std::min(C, N) * Vl)); // [C, Vl]
    for (int64_t r0 = 0; r0 < N; r0 += C)
      head_rows(hv, ca, r0, std::min(C, N - r0), chunk.data(), losses.data(), false);
  }
  double s = 0;
  for (const T l : losses)
    s += double(l);
  loss_sum_ += s * loss_weight_;
  if (!keep) {
    for (auto* v : {&ca.meanf, &ca.rstdf})
      release(*v);
    ca.hf.release();
  }
}

// dx [N, H]: the gradient of the head chunk's input (overwritten; zero on rows without loss
// when the head ran on the rows with loss only).
template <class T> void GlmModel<T>::head_backward(const MicroBatch& mb, ChunkActs& ca, T* dx) {
  const int64_t H = cfg_.hidden;
  const ParamInfo& lw = table_.get("final_layernorm.weight");
  const ParamInfo* lb = table_.find("final_layernorm.bias");
  const ParamInfo& e = table_.get(table_.head_name());
  const HeadView hv = head_view(mb, ca);
  const int64_t N = hv.n, Vl = e.local_rows, C = head_chunk_rows(N, Vl);
  const bool kept = !ca.probs.empty();
  if (!kept) // recomputed: the same kernels on the same input, losses not counted again
    head_norm(N, ca);
  std::vector<T> chunk(kept ? 0 : size_t(std::min(C, N) * Vl)), losses(kept ? 0 : size_t(N));
  const std::vector<T> dloss(size_t(std::min(C, N)), T(loss_weight_));
  T* dhf = sized(scratch_->h, N * H);
  T* g = grads(); // null: a frozen base (fine-tuning with adapters)
  for (int64_t r0 = 0; r0 < N; r0 += C) {
    const int64_t n = std::min(C, N - r0);
    T* probs = kept ? ca.probs.data() + r0 * Vl : chunk.data();
    if (!kept)
      head_rows(hv, ca, r0, n, probs, losses.data(), false);
    cpu::vocab_parallel_ce_backward(probs, hv.targets + r0, hv.mask + r0, dloss.data(), probs, n, Vl,
                                    int64_t(plan_.tp_rank) * Vl, cfg_.vocab);
    linear_bwd(probs, ca.hf.in().rows(r0, H), matrix_param(e), dhf + r0 * H, g ? g + e.offset : nullptr,
               static_cast<T*>(nullptr), n, H, Vl);
  }
  tp_sum(dhf, N * H);
  norm_backward(dhf, ca.final_x.data(), vector_param(lw), ca.meanf, ca.rstdf, dx, g ? g + lw.offset : nullptr,
                g && lb ? g + lb->offset : nullptr, N, false);
  if (ca.loss_rows)
    expand_rows(dx, ca.loss_rows->rows, mb.B * mb.S, H);
}

template <class T> void GlmModel<T>::backward(int chunk, int microbatch, const T* dout, T* din) {
  const MicroBatch& mb = (*mbs_)[size_t(microbatch)];
  const int64_t N = mb.B * mb.S, H = cfg_.hidden;
  auto it = acts_.find({chunk, microbatch});
  GLM3D_CHECK(it != acts_.end()) << "backward of chunk " << chunk << " micro-batch " << microbatch
                                 << " before its forward";
  ChunkActs& ca = *it->second;
  const auto [first, count] = plan_.chunks[size_t(chunk)];
  std::vector<T> dx(size_t(N * H)), dy(size_t(N * H)); // [B, S, H]
  if (chunk_has_head(chunk))
    head_backward(mb, ca, dy.data());
  else
    std::copy(dout, dout + N * H, dy.begin());
  for (int i = count - 1; i >= 0; --i) {
    layer_backward(first + i, mb, dy.data(), dx.data(), ca.layers[size_t(i)]);
    ca.layers[size_t(i)] = LayerActs{}; // free as we go
    if (on_layer_backward_done)
      on_layer_backward_done(first + i, microbatch);
    std::swap(dx, dy);
  }
  if (chunk_has_input_embedding(chunk) && grads()) {
    const ParamInfo& e = table_.get("word_embeddings.weight");
    if (embedding_grad_shrink != 1.0)
      cpu::scale(dy.data(), embedding_grad_shrink, int64_t(dy.size()));
    cpu::embedding_backward(mb.tokens.data(), dy.data(), grads_.data() + e.offset, N, H,
                            int64_t(plan_.tp_rank) * e.local_rows, e.local_rows);
  } else if (din) {
    std::copy(dy.begin(), dy.end(), din);
  }
  acts_.erase(it);
}

template class GlmModel<float>;
template class GlmModel<double>;

} // namespace glm3d
