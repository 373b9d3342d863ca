// One GLM transformer layer of a GlmModel: forward, what it keeps for backward under each
// recomputation policy, and backward (recomputing what was dropped first).
#include "core/check.h"
#include "core/cpu/activation.h"
#include "core/cpu/attention.h"
#include "core/cpu/elementwise.h"
#include "core/cpu/flash_attention.h"
#include "core/cpu/layernorm.h"
#include "core/cpu/rope.h"
#include "model/glm_model.h"
#include "model/glm_model_impl.h"

namespace glm3d {

template <class T> int64_t GlmModel<T>::LayerActs::bytes() const {
  const size_t f = x.capacity() + mean1.capacity() + rstd1.capacity() + probs.capacity() + x1.capacity() +
                   mean2.capacity() + rstd2.capacity();
  return int64_t(f * sizeof(T) + lse.capacity() * sizeof(lse[0])) + h.bytes() + qkv.bytes() + ctx.bytes() +
         h2.bytes() + u.bytes() + act.bytes();
}

template <class T> void GlmModel<T>::LayerActs::release_all_but_input() {
  for (auto* v : {&mean1, &rstd1, &probs, &x1, &mean2, &rstd2})
    release(*v);
  release(lse);
  for (auto* s : {&h, &qkv, &ctx, &h2, &u, &act})
    s->release();
  complete = false;
}

template <class T> typename GlmModel<T>::Weights GlmModel<T>::layer_weights(int l) {
  auto p = [&](const char* s) -> const ParamInfo& { return table_.get(layer_param_name(l, s)); };
  return {
      vector_param(p("input_layernorm.weight")),           vector_param(p("input_layernorm.bias")),
      vector_param(p("attention.query_key_value.bias")),   vector_param(p("attention.dense.bias")),
      vector_param(p("post_attention_layernorm.weight")),  vector_param(p("post_attention_layernorm.bias")),
      vector_param(p("mlp.dense_h_to_4h.bias")),           vector_param(p("mlp.dense_4h_to_h.bias")),
      matrix_param(p("attention.query_key_value.weight")), matrix_param(p("attention.dense.weight")),
      matrix_param(p("mlp.dense_h_to_4h.weight")),         matrix_param(p("mlp.dense_4h_to_h.weight"))};
}

namespace {
// Gradient buffers of a layer, in the order of Weights plus the four matrices.
template <class T> struct LayerGrads {
  T *ln1_w, *ln1_b, *qkv_b, *o_b, *ln2_w, *ln2_b, *up_b, *down_b, *qkv_w, *o_w, *up_w, *down_w;
};
template <class T> LayerGrads<T> layer_grads(const ParamTable& t, T* g, int l) {
  auto at = [&](const char* s) { return g + t.get(layer_param_name(l, s)).offset; };
  return {at("input_layernorm.weight"),           at("input_layernorm.bias"),
          at("attention.query_key_value.bias"),   at("attention.dense.bias"),
          at("post_attention_layernorm.weight"),  at("post_attention_layernorm.bias"),
          at("mlp.dense_h_to_4h.bias"),           at("mlp.dense_4h_to_h.bias"),
          at("attention.query_key_value.weight"), at("attention.dense.weight"),
          at("mlp.dense_h_to_4h.weight"),         at("mlp.dense_4h_to_h.weight")};
}
} // namespace

// qkv: [N, 3Hl] after RoPE (as T, in the store under f32/f64, in scratch under bf16, already
// committed to a.qkv). Writes a.ctx and the attention state (probs or lse).
template <class T> void GlmModel<T>::attention_forward(const MicroBatch& mb, T* qkv, LayerActs& a) {
  const int64_t B = mb.B, S = mb.S, N = B * S, nhl = cfg_.num_heads / plan_.tp, hd = cfg_.head_dim();
  if (exec_.attention == AttentionImpl::dense) {
    a.probs.resize(size_t(B * nhl * S * S));
    T* ctx = a.ctx.begin_write(N * nhl * hd, false, scratch_->small);
    cpu::glm_attention_forward(qkv, mb.sep.data(), ctx, a.probs.data(), B, S, nhl, hd);
    return;
  }
  const cpu::FlashShape shape{B, S, nhl, nhl, hd};
  a.lse.resize(size_t(B * nhl * S));
  if constexpr (std::is_same_v<T, float>)
    if (a.qkv.is_bf16()) {
      const auto view = cpu::interleaved_qkv(a.qkv.b(), nhl, hd);
      cpu::flash_attention_forward<bf16>(view, mb.sep.data(), a.ctx.bf16_slot(N * nhl * hd), a.lse.data(),
                                         shape);
      return;
    }
  T* ctx = a.ctx.begin_write(N * nhl * hd, false, scratch_->small);
  const auto view = cpu::interleaved_qkv(static_cast<const T*>(qkv), nhl, hd);
  cpu::flash_attention_forward<T>(view, mb.sep.data(), ctx, a.lse.data(), shape);
}

// dctx [N, Hl] -> dqkv [N, 3Hl] (overwritten), before RoPE's backward.
template <class T>
void GlmModel<T>::attention_backward(const MicroBatch& mb, const T* dctx, LayerActs& a, T* dqkv) {
  const int64_t B = mb.B, S = mb.S, N = B * S, nhl = cfg_.num_heads / plan_.tp, hd = cfg_.head_dim();
  if (exec_.attention == AttentionImpl::dense) {
    cpu::glm_attention_backward(dctx, a.qkv.f(), a.probs.data(), mb.sep.data(), dqkv, B, S, nhl, hd);
    return;
  }
  const cpu::FlashShape shape{B, S, nhl, nhl, hd};
  if constexpr (std::is_same_v<T, float>)
    if (a.qkv.is_bf16()) {
      Scratch& s = *scratch_;
      bf16* dout = sized(s.qb, N * nhl * hd + 3 * N * nhl * hd); // [N, Hl] then dqkv [N, 3Hl]
      bf16* dq = dout + N * nhl * hd;
      cpu::to_bf16(dctx, dout, N * nhl * hd);
      cpu::flash_attention_backward<bf16>(dout, cpu::interleaved_qkv(a.qkv.b(), nhl, hd), a.ctx.b(),
                                          a.lse.data(), mb.sep.data(), cpu::interleaved_qkv(dq, nhl, hd),
                                          shape);
      cpu::to_f32(dq, dqkv, 3 * N * nhl * hd);
      return;
    }
  cpu::flash_attention_backward<T>(dctx, cpu::interleaved_qkv(static_cast<const T*>(a.qkv.f()), nhl, hd),
                                   a.ctx.f(), a.lse.data(), mb.sep.data(),
                                   cpu::interleaved_qkv(dqkv, nhl, hd), shape);
}

template <class T>
void GlmModel<T>::layer_forward(int l, const MicroBatch& mb, const T* x, T* out, LayerActs& a) {
  const int64_t B = mb.B, S = mb.S, N = B * S, H = cfg_.hidden, tp = plan_.tp;
  const int64_t Hl = H / tp, nhl = cfg_.num_heads / tp, hd = cfg_.head_dim();
  const int64_t Ul = cfg_.ffn_up_width() / tp, Fl = cfg_.ffn_hidden / tp;
  const double alpha = cfg_.deepnorm_alpha();
  const bool half = exec_.bf16();
  const Weights w = layer_weights(l);
  Scratch& s = *scratch_;
  if (x != a.x.data()) // a recomputing backward passes the stored input itself
    a.x.assign(x, x + N * H);
  a.mean1.resize(size_t(N));
  a.rstd1.resize(size_t(N));
  T* h = a.h.begin_write(N * H, half, s.h); // [N, H], also the residual branch below
  cpu::layernorm_forward(x, w.ln1_w, w.ln1_b, h, a.mean1.data(), a.rstd1.data(), N, H, cfg_.ln_eps);
  a.h.commit(h);
  // Attention: [N, H] -> qkv [B, S, nhl, 3, hd] -> ctx [N, Hl] -> partial [N, H].
  T* qkv = a.qkv.begin_write(N * 3 * Hl, half, s.wide);
  linear_fwd(a.h.in(), w.qkv_w, w.qkv_b, qkv, N, H, 3 * Hl);
  const int32_t* bpos = cfg_.rope == RopeKind::two_d ? mb.block_position_ids.data() : nullptr;
  cpu::rope_forward(qkv, mb.position_ids.data(), bpos, B, S, nhl, hd, cfg_.rope_base);
  a.qkv.commit(qkv);
  attention_forward(mb, qkv, a);
  a.x1.resize(size_t(N * H));
  linear_fwd(a.ctx.in(), w.o_w, static_cast<const T*>(nullptr), a.x1.data(), N, Hl, H);
  tp_sum(a.x1.data(), N * H);
  cpu::scale_add(h, alpha, a.x1.data(), w.o_b, a.x1.data(), N, H); // x1 = h * alpha + (partial + bias)
  // FFN.
  a.mean2.resize(size_t(N));
  a.rstd2.resize(size_t(N));
  T* h2 = a.h2.begin_write(N * H, half, s.h2);
  cpu::layernorm_forward(a.x1.data(), w.ln2_w, w.ln2_b, h2, a.mean2.data(), a.rstd2.data(), N, H,
                         cfg_.ln_eps);
  a.h2.commit(h2);
  T* u = a.u.begin_write(N * Ul, half, s.wide); // qkv is committed and no longer read
  linear_fwd(a.h2.in(), w.up_w, w.up_b, u, N, H, Ul);
  a.u.commit(u);
  T* act = a.act.begin_write(N * Fl, half, s.act);
  if (cfg_.ffn == FfnKind::geglu)
    cpu::geglu_forward(u, act, N, Fl);
  else
    cpu::gelu_forward(u, act, N * Fl);
  a.act.commit(act);
  linear_fwd(a.act.in(), w.down_w, static_cast<const T*>(nullptr), out, N, Fl, H);
  tp_sum(out, N * H);
  cpu::scale_add(h2, alpha, out, w.down_b, out, N, H);
  a.complete = true;
}

template <class T> void GlmModel<T>::keep_for_backward(LayerActs& a) const {
  if (exec_.recompute == Recompute::full)
    a.release_all_but_input();
  else if (exec_.recompute == Recompute::selective && exec_.attention == AttentionImpl::dense) {
    release(a.probs);
    a.complete = false;
  }
}

template <class T>
void GlmModel<T>::layer_backward(int l, const MicroBatch& mb, const T* dout, T* dx, LayerActs& a) {
  const int64_t B = mb.B, S = mb.S, N = B * S, H = cfg_.hidden, tp = plan_.tp;
  const int64_t Hl = H / tp, nhl = cfg_.num_heads / tp, hd = cfg_.head_dim();
  const int64_t Ul = cfg_.ffn_up_width() / tp, Fl = cfg_.ffn_hidden / tp;
  const double alpha = cfg_.deepnorm_alpha();
  Scratch& s = *scratch_;
  if (!a.complete) { // recompute what keep_for_backward dropped, with the forward's own kernels
    if (exec_.recompute == Recompute::full) {
      layer_forward(l, mb, a.x.data(), sized(s.extra, N * H), a);
    } else {
      a.probs.resize(size_t(B * nhl * S * S));
      cpu::glm_attention_forward(a.qkv.f(), mb.sep.data(), sized(s.small, N * Hl), a.probs.data(), B, S, nhl,
                                 hd);
    }
  }
  const Weights w = layer_weights(l);
  const LayerGrads<T> g = layer_grads(table_, grads_.data(), l);
  // FFN: out = h2 * alpha + act Wdown^T + bdown.
  const bool gated = cfg_.ffn == FfnKind::geglu;
  T* dact = sized(s.act, N * Fl);
  T* du = gated ? sized(s.extra, N * Ul) : dact; // GeLU's backward is element-wise: in place
  T* dh2 = sized(s.h, N * H);
  T* dx1 = sized(s.h2, N * H);
  linear_bwd(dout, a.act.in(), w.down_w, dact, g.down_w, g.down_b, N, Fl, H);
  const T* u = a.u.values(s.wide);
  if (gated)
    cpu::geglu_backward(u, dact, du, N, Fl);
  else
    cpu::gelu_backward(u, dact, du, N * Fl);
  linear_bwd(du, a.h2.in(), w.up_w, dh2, g.up_w, g.up_b, N, H, Ul);
  tp_sum(dh2, N * H); // column-parallel input gradient: sum over tp
  cpu::axpy(alpha, dout, dh2, N * H);
  cpu::layernorm_backward(dh2, a.x1.data(), w.ln2_w, a.mean2.data(), a.rstd2.data(), dx1, g.ln2_w, g.ln2_b, N,
                          H, false);
  // Attention: x1 = h * alpha + ctx Wo^T + bo.
  T* dctx = sized(s.small, N * Hl);
  T* dqkv = sized(s.wide, N * 3 * Hl); // u is no longer read
  T* dh = dh2;                         // dh2 is consumed
  linear_bwd(dx1, a.ctx.in(), w.o_w, dctx, g.o_w, g.o_b, N, Hl, H);
  attention_backward(mb, dctx, a, dqkv);
  const int32_t* bpos = cfg_.rope == RopeKind::two_d ? mb.block_position_ids.data() : nullptr;
  cpu::rope_backward(dqkv, mb.position_ids.data(), bpos, B, S, nhl, hd, cfg_.rope_base);
  linear_bwd(dqkv, a.h.in(), w.qkv_w, dh, g.qkv_w, g.qkv_b, N, H, 3 * Hl);
  tp_sum(dh, N * H);
  cpu::axpy(alpha, dx1, dh, N * H);
  cpu::layernorm_backward(dh, a.x.data(), w.ln1_w, a.mean1.data(), a.rstd1.data(), dx, g.ln1_w, g.ln1_b, N, H,
                          false);
}

// The members defined in this file (the class itself is instantiated in glm_model.cpp).
#define GLM3D_LAYER_MEMBERS(T)                                                                               \
  template int64_t GlmModel<T>::LayerActs::bytes() const;                                                    \
  template void GlmModel<T>::LayerActs::release_all_but_input();                                             \
  template GlmModel<T>::Weights GlmModel<T>::layer_weights(int);                                             \
  template void GlmModel<T>::attention_forward(const MicroBatch&, T*, LayerActs&);                           \
  template void GlmModel<T>::attention_backward(const MicroBatch&, const T*, LayerActs&, T*);                \
  template void GlmModel<T>::layer_forward(int, const MicroBatch&, const T*, T*, LayerActs&);                \
  template void GlmModel<T>::keep_for_backward(LayerActs&) const;                                            \
  template void GlmModel<T>::layer_backward(int, const MicroBatch&, const T*, T*, LayerActs&);
GLM3D_LAYER_MEMBERS(float)
GLM3D_LAYER_MEMBERS(double)

} // namespace glm3d
