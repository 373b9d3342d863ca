#include "model/glm_model.h"

#include "core/check.h"
#include "core/cpu/activation.h"
#include "core/cpu/attention.h"
#include "core/cpu/cross_entropy.h"
#include "core/cpu/elementwise.h"
#include "core/cpu/embedding.h"
#include "core/cpu/layernorm.h"
#include "core/cpu/rope.h"
#include "model/init.h"

#include <algorithm>
#include <cstring>

namespace glm3d {

// Everything one layer's backward needs from its forward, for one micro-batch.
template <class T> struct GlmModel<T>::LayerActs {
  std::vector<T> x;               // [T, H]   layer input
  std::vector<T> h, mean1, rstd1; // [T, H], [T], [T]
  std::vector<T> qkv;             // [T, 3Hl] after RoPE
  std::vector<T> probs;           // [B, heads/tp, S, S]
  std::vector<T> ctx;             // [T, Hl]
  std::vector<T> x1;              // [T, H]
  std::vector<T> h2, mean2, rstd2;
  std::vector<T> u;   // [T, Ul]
  std::vector<T> act; // [T, Fl]
};

template <class T> struct GlmModel<T>::ChunkActs {
  std::vector<LayerActs> layers;
  std::vector<T> final_x, hf, meanf, rstdf; // head chunk: LNf input/output
  std::vector<T> probs;                     // head chunk: softmax over the local vocab [T, Vl]
};

template <class T> struct GlmModel<T>::Weights {
  T *ln1_w, *ln1_b, *qkv_w, *qkv_b, *o_w, *o_b, *ln2_w, *ln2_b, *up_w, *up_b, *down_w, *down_b;
};

StagePlan single_rank_plan(const ModelConfig& cfg) {
  StagePlan p;
  p.chunks = {{0, int(cfg.num_layers)}};
  p.has_embedding = true;
  return p;
}

template <class T>
GlmModel<T>::GlmModel(const ModelConfig& cfg, const StagePlan& plan, Communicator& tp_comm,
                      cpu::Precision prec)
    : cfg_(cfg), plan_(plan), table_(cfg, plan), tp_(tp_comm), prec_(prec) {
  GLM3D_CHECK(tp_comm.size() == plan.tp)
      << "tp communicator size " << tp_comm.size() << " != plan tp " << plan.tp;
  params_.assign(size_t(table_.total()), T(0));
  grads_.assign(size_t(table_.total()), T(0));
}

template <class T> GlmModel<T>::~GlmModel() = default;

template <class T> void GlmModel<T>::init(uint64_t seed) {
  init_parameters(cfg_, table_, plan_.tp_rank, seed, params_.data());
}

template <class T> void GlmModel<T>::zero_grads() {
  std::fill(grads_.begin(), grads_.end(), T(0));
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
}

template <class T> void GlmModel<T>::tp_sum(T* buf, int64_t n) {
  if (tp_.size() > 1)
    tp_.all_reduce(buf, size_t(n), ReduceOp::sum);
}

template <class T> typename GlmModel<T>::Weights GlmModel<T>::layer_weights(int l, bool grads) {
  T* base = grads ? grads_.data() : params_.data();
  auto at = [&](const char* s) { return base + table_.get(layer_param_name(l, s)).offset; };
  return {at("input_layernorm.weight"),           at("input_layernorm.bias"),
          at("attention.query_key_value.weight"), at("attention.query_key_value.bias"),
          at("attention.dense.weight"),           at("attention.dense.bias"),
          at("post_attention_layernorm.weight"),  at("post_attention_layernorm.bias"),
          at("mlp.dense_h_to_4h.weight"),         at("mlp.dense_h_to_4h.bias"),
          at("mlp.dense_4h_to_h.weight"),         at("mlp.dense_4h_to_h.bias")};
}

template <class T>
void GlmModel<T>::layer_forward(int l, const MicroBatch& mb, const T* x, T* out, LayerActs& a) {
  const int64_t B = mb.B, S = mb.S, N = B * S, H = cfg_.hidden, tp = plan_.tp;
  const int64_t Hl = H / tp, nhl = cfg_.num_heads / tp, hd = cfg_.head_dim();
  const int64_t Ul = cfg_.ffn_up_width() / tp, Fl = cfg_.ffn_hidden / tp;
  const double alpha = cfg_.deepnorm_alpha();
  const Weights w = layer_weights(l, false);
  a.x.assign(x, x + N * H);
  a.h.resize(size_t(N * H));
  a.mean1.resize(size_t(N));
  a.rstd1.resize(size_t(N));
  cpu::layernorm_forward(x, w.ln1_w, w.ln1_b, a.h.data(), a.mean1.data(), a.rstd1.data(), N, H, cfg_.ln_eps);
  // Attention: [T,H] -> qkv [B,S,nhl,3,hd] -> ctx [T,Hl] -> partial [T,H].
  a.qkv.resize(size_t(N * 3 * Hl));
  cpu::linear_forward(a.h.data(), w.qkv_w, w.qkv_b, a.qkv.data(), N, H, 3 * Hl, prec_);
  const int32_t* bpos = cfg_.rope == RopeKind::two_d ? mb.block_position_ids.data() : nullptr;
  cpu::rope_forward(a.qkv.data(), mb.position_ids.data(), bpos, B, S, nhl, hd, cfg_.rope_base);
  a.probs.resize(size_t(B * nhl * S * S));
  a.ctx.resize(size_t(N * Hl));
  cpu::glm_attention_forward(a.qkv.data(), mb.sep.data(), a.ctx.data(), a.probs.data(), B, S, nhl, hd);
  a.x1.resize(size_t(N * H));
  cpu::linear_forward(a.ctx.data(), w.o_w, static_cast<const T*>(nullptr), a.x1.data(), N, Hl, H, prec_);
  tp_sum(a.x1.data(), N * H);
  // x1 = h * alpha + (partial + bias)
  cpu::scale_add(a.h.data(), alpha, a.x1.data(), w.o_b, a.x1.data(), N, H);
  // FFN.
  a.h2.resize(size_t(N * H));
  a.mean2.resize(size_t(N));
  a.rstd2.resize(size_t(N));
  cpu::layernorm_forward(a.x1.data(), w.ln2_w, w.ln2_b, a.h2.data(), a.mean2.data(), a.rstd2.data(), N, H,
                         cfg_.ln_eps);
  a.u.resize(size_t(N * Ul));
  cpu::linear_forward(a.h2.data(), w.up_w, w.up_b, a.u.data(), N, H, Ul, prec_);
  a.act.resize(size_t(N * Fl));
  if (cfg_.ffn == FfnKind::geglu)
    cpu::geglu_forward(a.u.data(), a.act.data(), N, Fl);
  else
    cpu::gelu_forward(a.u.data(), a.act.data(), N * Fl);
  cpu::linear_forward(a.act.data(), w.down_w, static_cast<const T*>(nullptr), out, N, Fl, H, prec_);
  tp_sum(out, N * H);
  cpu::scale_add(a.h2.data(), alpha, out, w.down_b, out, N, H);
}

template <class T>
void GlmModel<T>::layer_backward(int l, const MicroBatch& mb, const T* dout, T* dx, LayerActs& a) {
  const int64_t B = mb.B, S = mb.S, N = B * S, H = cfg_.hidden, tp = plan_.tp;
  const int64_t Hl = H / tp, nhl = cfg_.num_heads / tp, hd = cfg_.head_dim();
  const int64_t Ul = cfg_.ffn_up_width() / tp, Fl = cfg_.ffn_hidden / tp;
  const double alpha = cfg_.deepnorm_alpha();
  const Weights w = layer_weights(l, false);
  const Weights g = layer_weights(l, true);
  // FFN: out = h2 * alpha + a Wdown^T + bdown.
  std::vector<T> dact(size_t(N * Fl)), du(size_t(N * Ul)), dh2(size_t(N * H));
  cpu::linear_backward(dout, a.act.data(), w.down_w, dact.data(), g.down_w, g.down_b, N, Fl, H, false, prec_);
  if (cfg_.ffn == FfnKind::geglu)
    cpu::geglu_backward(a.u.data(), dact.data(), du.data(), N, Fl);
  else
    cpu::gelu_backward(a.u.data(), dact.data(), du.data(), N * Fl);
  cpu::linear_backward(du.data(), a.h2.data(), w.up_w, dh2.data(), g.up_w, g.up_b, N, H, Ul, false, prec_);
  tp_sum(dh2.data(), N * H); // column-parallel input gradient: sum over tp
  cpu::axpy(alpha, dout, dh2.data(), N * H);
  std::vector<T> dx1(size_t(N * H));
  cpu::layernorm_backward(dh2.data(), a.x1.data(), w.ln2_w, a.mean2.data(), a.rstd2.data(), dx1.data(),
                          g.ln2_w, g.ln2_b, N, H, false);
  // Attention: x1 = h * alpha + ctx Wo^T + bo.
  std::vector<T> dctx(size_t(N * Hl)), dqkv(size_t(N * 3 * Hl)), dh(size_t(N * H));
  cpu::linear_backward(dx1.data(), a.ctx.data(), w.o_w, dctx.data(), g.o_w, g.o_b, N, Hl, H, false, prec_);
  cpu::glm_attention_backward(dctx.data(), a.qkv.data(), a.probs.data(), mb.sep.data(), dqkv.data(), B, S,
                              nhl, hd);
  const int32_t* bpos = cfg_.rope == RopeKind::two_d ? mb.block_position_ids.data() : nullptr;
  cpu::rope_backward(dqkv.data(), mb.position_ids.data(), bpos, B, S, nhl, hd, cfg_.rope_base);
  cpu::linear_backward(dqkv.data(), a.h.data(), w.qkv_w, dh.data(), g.qkv_w, g.qkv_b, N, H, 3 * Hl, false,
                       prec_);
  tp_sum(dh.data(), N * H);
  cpu::axpy(alpha, dx1.data(), dh.data(), N * H);
  cpu::layernorm_backward(dh.data(), a.x.data(), w.ln1_w, a.mean1.data(), a.rstd1.data(), dx, g.ln1_w,
                          g.ln1_b, N, H, false);
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

  std::vector<T> x(size_t(N * H)), y(size_t(N * H));
  if (chunk_has_input_embedding(chunk)) {
    const ParamInfo& e = table_.get("word_embeddings.weight");
    cpu::embedding_forward(mb.tokens.data(), params_.data() + e.offset, x.data(), N, H,
                           int64_t(plan_.tp_rank) * e.local_rows, e.local_rows);
    tp_sum(x.data(), N * H);
  } else {
    std::copy(in, in + N * H, x.begin());
  }
  for (int i = 0; i < count; ++i) {
    layer_forward(first + i, mb, x.data(), y.data(), ca.layers[size_t(i)]);
    std::swap(x, y);
  }
  if (!chunk_has_head(chunk)) {
    std::copy(x.begin(), x.end(), out);
    return;
  }
  // Head: final LayerNorm, tied LM head, vocab-parallel cross-entropy.
  const ParamInfo& lw = table_.get("final_layernorm.weight");
  const ParamInfo& lb = table_.get("final_layernorm.bias");
  const ParamInfo& e = table_.get("word_embeddings.weight");
  const int64_t Vl = e.local_rows;
  ca.final_x = std::move(x);
  ca.hf.resize(size_t(N * H));
  ca.meanf.resize(size_t(N));
  ca.rstdf.resize(size_t(N));
  cpu::layernorm_forward(ca.final_x.data(), params_.data() + lw.offset, params_.data() + lb.offset,
                         ca.hf.data(), ca.meanf.data(), ca.rstdf.data(), N, H, cfg_.ln_eps);
  ca.probs.resize(size_t(N * Vl));
  cpu::linear_forward(ca.hf.data(), params_.data() + e.offset, static_cast<const T*>(nullptr),
                      ca.probs.data(), N, H, Vl, prec_);
  if (on_logits)
    on_logits(microbatch, ca.probs.data());
  cpu::VocabReduce<T> reduce = cpu::VocabReduce<T>::local();
  if (tp_.size() > 1) {
    reduce.max = [this](T* b, int64_t n) { tp_.all_reduce(b, size_t(n), ReduceOp::max); };
    reduce.sum = [this](T* b, int64_t n) { tp_.all_reduce(b, size_t(n), ReduceOp::sum); };
  }
  std::vector<T> losses(static_cast<size_t>(N));
  cpu::vocab_parallel_ce_forward(ca.probs.data(), mb.targets.data(), mb.loss_mask.data(), losses.data(),
                                 ca.probs.data(), N, Vl, int64_t(plan_.tp_rank) * Vl, cfg_.vocab, reduce);
  double s = 0;
  for (int64_t n = 0; n < N; ++n)
    s += double(losses[size_t(n)]);
  loss_sum_ += s * loss_weight_;
}

template <class T> void GlmModel<T>::backward(int chunk, int microbatch, const T* dout, T* din) {
  const MicroBatch& mb = (*mbs_)[size_t(microbatch)];
  const int64_t N = mb.B * mb.S, H = cfg_.hidden;
  auto it = acts_.find({chunk, microbatch});
  GLM3D_CHECK(it != acts_.end()) << "backward of chunk " << chunk << " micro-batch " << microbatch
                                 << " before its forward";
  ChunkActs& ca = *it->second;
  const auto [first, count] = plan_.chunks[size_t(chunk)];
  std::vector<T> dx(size_t(N * H)), dy(size_t(N * H));
  if (chunk_has_head(chunk)) {
    const ParamInfo& lw = table_.get("final_layernorm.weight");
    const ParamInfo& lb = table_.get("final_layernorm.bias");
    const ParamInfo& e = table_.get("word_embeddings.weight");
    const int64_t Vl = e.local_rows;
    std::vector<T> dloss(static_cast<size_t>(N), T(loss_weight_));
    cpu::vocab_parallel_ce_backward(ca.probs.data(), mb.targets.data(), mb.loss_mask.data(), dloss.data(),
                                    ca.probs.data(), N, Vl, int64_t(plan_.tp_rank) * Vl, cfg_.vocab);
    std::vector<T> dhf(size_t(N * H));
    cpu::linear_backward(ca.probs.data(), ca.hf.data(), params_.data() + e.offset, dhf.data(),
                         grads_.data() + e.offset, static_cast<T*>(nullptr), N, H, Vl, false, prec_);
    tp_sum(dhf.data(), N * H);
    cpu::layernorm_backward(dhf.data(), ca.final_x.data(), params_.data() + lw.offset, ca.meanf.data(),
                            ca.rstdf.data(), dy.data(), grads_.data() + lw.offset, grads_.data() + lb.offset,
                            N, H, false);
  } else {
    std::copy(dout, dout + N * H, dy.begin());
  }
  for (int i = count - 1; i >= 0; --i) {
    layer_backward(first + i, mb, dy.data(), dx.data(), ca.layers[size_t(i)]);
    ca.layers[size_t(i)] = LayerActs{}; // free as we go
    if (on_layer_backward_done)
      on_layer_backward_done(first + i, microbatch);
    std::swap(dx, dy);
  }
  if (chunk_has_input_embedding(chunk)) {
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
