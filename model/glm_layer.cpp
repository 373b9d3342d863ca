// One GLM transformer layer of a GlmModel: forward, what it keeps for backward under each
// recomputation policy, and backward (recomputing what was dropped first).
#include "core/check.h"
#include "core/cpu/activation.h"
#include "core/cpu/attention.h"
#include "core/cpu/elementwise.h"
#include "core/cpu/flash_attention.h"
#include "core/cpu/layernorm.h"
#include "core/cpu/rmsnorm.h"
#include "core/cpu/rope.h"
#include "model/glm_model.h"
#include "model/glm_model_impl.h"

namespace glm3d {

template <class T> int64_t GlmModel<T>::LayerActs::bytes() const {
  const size_t f = x.capacity() + mean1.capacity() + rstd1.capacity() + probs.capacity() + x1.capacity() +
                   mean2.capacity() + rstd2.capacity();
  size_t z = 0;
  for (const auto& v : lora_z)
    z += v.capacity();
  return int64_t((f + z) * sizeof(T) + lse.capacity() * sizeof(lse[0])) + h.bytes() + qkv.bytes() +
         ctx.bytes() + ctx_ext.bytes() + h2.bytes() + u.bytes() + act.bytes();
}

template <class T> void GlmModel<T>::LayerActs::release_all_but_input() {
  for (auto* v : {&mean1, &rstd1, &probs, &x1, &mean2, &rstd2})
    release(*v);
  release(lse);
  for (auto* s : {&h, &qkv, &ctx, &ctx_ext, &h2, &u, &act})
    s->release();
  for (auto& v : lora_z)
    release(v);
  complete = false;
}

template <class T> typename GlmModel<T>::Weights GlmModel<T>::layer_weights(int l) {
  auto p = [&](const char* s) -> const ParamInfo& { return table_.get(layer_param_name(l, s)); };
  auto opt = [&](const char* s) -> const T* { // absent biases (RMSNorm, ChatGLM2's linears): null
    const ParamInfo* q = table_.find(layer_param_name(l, s));
    return q ? vector_param(*q) : nullptr;
  };
  return {vector_param(p("input_layernorm.weight")),
          opt("input_layernorm.bias"),
          opt("attention.query_key_value.bias"),
          opt("attention.dense.bias"),
          vector_param(p("post_attention_layernorm.weight")),
          opt("post_attention_layernorm.bias"),
          opt("mlp.dense_h_to_4h.bias"),
          opt("mlp.dense_4h_to_h.bias"),
          layer_matrix(l, 0),
          layer_matrix(l, 1),
          layer_matrix(l, 2),
          layer_matrix(l, 3)};
}

namespace {
// Gradient buffers of a layer, in the order of Weights plus the four matrices.
template <class T> struct LayerGrads {
  T *ln1_w, *ln1_b, *qkv_b, *o_b, *ln2_w, *ln2_b, *up_b, *down_b, *qkv_w, *o_w, *up_w, *down_w;
};
// g null (a frozen base): every pointer null, so no weight gradient is computed.
template <class T> LayerGrads<T> layer_grads(const ParamTable& t, T* g, int l) {
  auto at = [&](const char* s) -> T* {
    const ParamInfo* p = g ? t.find(layer_param_name(l, s)) : nullptr;
    return p ? g + p->offset : nullptr;
  };
  return {at("input_layernorm.weight"),           at("input_layernorm.bias"),
          at("attention.query_key_value.bias"),   at("attention.dense.bias"),
          at("post_attention_layernorm.weight"),  at("post_attention_layernorm.bias"),
          at("mlp.dense_h_to_4h.bias"),           at("mlp.dense_4h_to_h.bias"),
          at("attention.query_key_value.weight"), at("attention.dense.weight"),
          at("mlp.dense_h_to_4h.weight"),         at("mlp.dense_4h_to_h.weight")};
}
} // namespace

namespace {

// The local attention shape: query heads, key/value heads, head dim, q/k/v layout.
struct AttnDims {
  int64_t nhl, ngl, hd;
  bool packed;
  int64_t qkv_width() const { return (nhl + 2 * ngl) * hd; }
};
AttnDims attn_dims(const ModelConfig& c, int tp) {
  return {c.num_heads / tp, c.packed_qkv() ? std::max<int64_t>(1, c.kv_heads() / tp) : c.num_heads / tp,
          c.head_dim(), c.packed_qkv()};
}
// q, k, v inside a [N, qkv width] buffer: ChatGLM-6B's per-head interleaving, or [Q | K | V].
template <class U> cpu::QkvView<U> view_of(U* qkv, const AttnDims& d) {
  return d.packed ? cpu::packed_qkv(qkv, d.nhl, d.ngl, d.hd) : cpu::interleaved_qkv(qkv, d.nhl, d.hd);
}

// RoPE in place on q and k of the buffer (and its inverse on their gradients).
template <class T>
void rope(const ModelConfig& c, const AttnDims& d, T* qkv, const MicroBatch& mb, bool inverse) {
  if (c.rope == RopeKind::half_interleaved) {
    const cpu::QkvView<T> v = view_of(qkv, d);
    if (inverse)
      cpu::rope_interleaved_backward(v.q, d.nhl, v.k, d.ngl, mb.position_ids.data(), mb.B, mb.S, d.hd,
                                     c.rope_base);
    else
      cpu::rope_interleaved_forward(v.q, d.nhl, v.k, d.ngl, mb.position_ids.data(), mb.B, mb.S, d.hd,
                                    c.rope_base);
    return;
  }
  const int32_t* bpos = c.rope == RopeKind::two_d ? mb.block_position_ids.data() : nullptr;
  if (inverse)
    cpu::rope_backward(qkv, mb.position_ids.data(), bpos, mb.B, mb.S, d.nhl, d.hd, c.rope_base);
  else
    cpu::rope_forward(qkv, mb.position_ids.data(), bpos, mb.B, mb.S, d.nhl, d.hd, c.rope_base);
}

} // namespace

// The GLM mask's Part A lengths, or the causal mask: null for flash attention, zeros for the
// dense kernel (which always takes seps).
template <class T> const int32_t* GlmModel<T>::mask_seps(const MicroBatch& mb) {
  if (spec_.prefix()) { // Part A widened by the prefix (model/glm_prefix.cpp)
    scratch_->zero_sep.resize(size_t(mb.B));
    for (int64_t b = 0; b < mb.B; ++b)
      scratch_->zero_sep[size_t(b)] =
          int32_t(spec_.pre_seq_len + (cfg_.mask == MaskKind::glm ? mb.sep[size_t(b)] : 0));
    return scratch_->zero_sep.data();
  }
  if (cfg_.mask == MaskKind::glm)
    return mb.sep.data();
  if (exec_.attention == AttentionImpl::flash)
    return nullptr;
  scratch_->zero_sep.assign(size_t(mb.B), 0);
  return scratch_->zero_sep.data();
}

// qkv: [N, qkv width] after RoPE (as T, in the store under f32/f64, in scratch under bf16, already
// committed to a.qkv). Writes a.ctx and the attention state (probs or lse).
// With a prefix, qkv and a.qkv hold [B, P+S, W], the kernel writes a.ctx_ext and a.ctx gets its
// token rows.
template <class T> void GlmModel<T>::attention_forward(const MicroBatch& mb, T* qkv, LayerActs& a) {
  attention_core(mb, qkv, a);
  if (spec_.prefix())
    prefix_strip_ctx(mb, a);
}

template <class T> void GlmModel<T>::attention_core(const MicroBatch& mb, const T* qkv, LayerActs& a) {
  const AttnDims d = attn_dims(cfg_, plan_.tp);
  const int64_t B = mb.B, S = attn_len(mb), N = B * S;
  const int32_t* sep = mask_seps(mb);
  StoredAct<T>& out = spec_.prefix() ? a.ctx_ext : a.ctx;
  if (exec_.attention == AttentionImpl::dense) {
    a.probs.resize(size_t(B * d.nhl * S * S));
    T* ctx = out.begin_write(N * d.nhl * d.hd, false, scratch_->small);
    cpu::glm_attention_forward(qkv, sep, ctx, a.probs.data(), B, S, d.nhl, d.hd);
    return;
  }
  const cpu::FlashShape shape{B, S, d.nhl, d.ngl, d.hd};
  a.lse.resize(size_t(B * d.nhl * S));
  if constexpr (std::is_same_v<T, float>)
    if (a.qkv.is_bf16()) {
      cpu::flash_attention_forward<bf16>(view_of(a.qkv.b(), d), sep, out.bf16_slot(N * d.nhl * d.hd),
                                         a.lse.data(), shape);
      return;
    }
  T* ctx = out.begin_write(N * d.nhl * d.hd, false, scratch_->small);
  cpu::flash_attention_forward<T>(view_of(qkv, d), sep, ctx, a.lse.data(), shape);
}

// dctx [N, Hl] -> dqkv [N, qkv width] (overwritten), before RoPE's backward. With a prefix, over
// [B, P+S] rows (layer_backward pads dctx and takes the token rows of dqkv).
template <class T>
void GlmModel<T>::attention_backward(const MicroBatch& mb, const T* dctx, LayerActs& a, T* dqkv) {
  const AttnDims d = attn_dims(cfg_, plan_.tp);
  const int64_t B = mb.B, S = attn_len(mb), N = B * S, W = d.qkv_width();
  const int32_t* sep = mask_seps(mb);
  const StoredAct<T>& out = spec_.prefix() ? a.ctx_ext : a.ctx;
  if (exec_.attention == AttentionImpl::dense) {
    cpu::glm_attention_backward(dctx, a.qkv.f(), a.probs.data(), sep, dqkv, B, S, d.nhl, d.hd);
    return;
  }
  const cpu::FlashShape shape{B, S, d.nhl, d.ngl, d.hd};
  if constexpr (std::is_same_v<T, float>)
    if (a.qkv.is_bf16()) {
      Scratch& s = *scratch_;
      bf16* dout = sized(s.qb, N * d.nhl * d.hd + N * W); // [N, Hl] then dqkv [N, W]
      bf16* dq = dout + N * d.nhl * d.hd;
      cpu::to_bf16(dctx, dout, N * d.nhl * d.hd);
      cpu::flash_attention_backward<bf16>(dout, view_of(a.qkv.b(), d), out.b(), a.lse.data(), sep,
                                          view_of(dq, d), shape);
      cpu::to_f32(dq, dqkv, N * W);
      return;
    }
  cpu::flash_attention_backward<T>(dctx, view_of(static_cast<const T*>(a.qkv.f()), d), out.f(), a.lse.data(),
                                   sep, view_of(dqkv, d), shape);
}

// LayerNorm or RMSNorm (mean unused by RMSNorm).
template <class T>
void GlmModel<T>::norm_forward(const T* x, const T* w, const T* b, T* y, std::vector<T>& mean,
                               std::vector<T>& rstd, int64_t N) {
  rstd.resize(size_t(N));
  if (cfg_.norm == NormKind::rmsnorm) {
    cpu::rmsnorm_forward(x, w, y, rstd.data(), N, cfg_.hidden, cfg_.ln_eps);
    return;
  }
  mean.resize(size_t(N));
  cpu::layernorm_forward(x, w, b, y, mean.data(), rstd.data(), N, cfg_.hidden, cfg_.ln_eps);
}

template <class T>
void GlmModel<T>::norm_backward(const T* dy, const T* x, const T* w, const std::vector<T>& mean,
                                const std::vector<T>& rstd, T* dx, T* dw, T* db, int64_t N, bool accumulate) {
  if (cfg_.norm == NormKind::rmsnorm)
    cpu::rmsnorm_backward(dy, x, w, rstd.data(), dx, dw, N, cfg_.hidden, accumulate);
  else
    cpu::layernorm_backward(dy, x, w, mean.data(), rstd.data(), dx, dw, db, N, cfg_.hidden, accumulate);
}

template <class T> void GlmModel<T>::ffn_activation(const T* u, T* act, int64_t N) {
  const int64_t Fl = cfg_.ffn_hidden / plan_.tp;
  if (cfg_.ffn == FfnKind::geglu)
    cpu::geglu_forward(u, act, N, Fl);
  else if (cfg_.ffn == FfnKind::swiglu)
    cpu::swiglu_forward(u, act, N, Fl);
  else
    cpu::gelu_forward(u, act, N * Fl);
}

// Two residual schemes (model/config.h): DeepNorm adds the normalised input times alpha (GLM-130B),
// pre-norm the input itself (ChatGLM2/3). In layer_forward: x1 = r1 + attn, out = r2 + ffn with
// r1 = alpha h | x and r2 = alpha h2 | x1.
template <class T>
void GlmModel<T>::layer_forward(int l, const MicroBatch& mb, const T* x, T* out, LayerActs& a) {
  const AttnDims d = attn_dims(cfg_, plan_.tp);
  const int64_t N = mb.B * mb.S, H = cfg_.hidden, Hl = d.nhl * d.hd, W = d.qkv_width();
  const int64_t Ul = cfg_.ffn_up_width() / plan_.tp, Fl = cfg_.ffn_hidden / plan_.tp;
  const bool deepnorm = cfg_.residual == ResidualKind::deepnorm;
  const double alpha = deepnorm ? cfg_.deepnorm_alpha() : 1.0;
  const bool half = exec_.bf16();
  const Weights w = layer_weights(l);
  Scratch& s = *scratch_;
  if (x != a.x.data()) // a recomputing backward passes the stored input itself
    a.x.assign(x, x + N * H);
  T* h = a.h.begin_write(N * H, half, s.h); // [N, H]
  norm_forward(x, w.ln1_w, w.ln1_b, h, a.mean1, a.rstd1, N);
  a.h.commit(h);
  // Attention: [N, H] -> qkv [N, W] -> ctx [N, Hl] -> partial [N, H].
  T* qkv = spec_.prefix() ? sized(s.wide, N * W) : a.qkv.begin_write(N * W, half, s.wide);
  linear_fwd(a.h.in(), w.qkv_w, w.qkv_b, qkv, N, H, W);
  lora_forward(l, 0, a.h.in(), qkv, H, W, mb, a);
  rope(cfg_, d, qkv, mb, false);
  if (spec_.prefix()) // [B, P+S, W]: the prefix rows before each sample's
    qkv = prefix_extend(l, mb, qkv, a);
  a.qkv.commit(qkv);
  attention_forward(mb, qkv, a);
  a.x1.resize(size_t(N * H));
  linear_fwd(a.ctx.in(), w.o_w, static_cast<const T*>(nullptr), a.x1.data(), N, Hl, H);
  tp_sum(a.x1.data(), N * H);
  lora_forward(l, 1, a.ctx.in(), a.x1.data(), Hl, H, mb, a);
  // x1 = r1 + (partial + bias)
  cpu::scale_add(deepnorm ? h : x, alpha, a.x1.data(), w.o_b, a.x1.data(), N, H);
  // FFN.
  T* h2 = a.h2.begin_write(N * H, half, s.h2);
  norm_forward(a.x1.data(), w.ln2_w, w.ln2_b, h2, a.mean2, a.rstd2, N);
  a.h2.commit(h2);
  T* u = a.u.begin_write(N * Ul, half, s.wide); // qkv is committed and no longer read
  linear_fwd(a.h2.in(), w.up_w, w.up_b, u, N, H, Ul);
  lora_forward(l, 2, a.h2.in(), u, H, Ul, mb, a);
  a.u.commit(u);
  T* act = a.act.begin_write(N * Fl, half, s.act);
  ffn_activation(u, act, N);
  a.act.commit(act);
  linear_fwd(a.act.in(), w.down_w, static_cast<const T*>(nullptr), out, N, Fl, H);
  tp_sum(out, N * H);
  lora_forward(l, 3, a.act.in(), out, Fl, H, mb, a);
  cpu::scale_add(deepnorm ? h2 : a.x1.data(), alpha, out, w.down_b, out, N, H);
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
  const AttnDims d = attn_dims(cfg_, plan_.tp);
  const int64_t B = mb.B, S = mb.S, N = B * S, H = cfg_.hidden, Hl = d.nhl * d.hd, W = d.qkv_width();
  const int64_t Ul = cfg_.ffn_up_width() / plan_.tp, Fl = cfg_.ffn_hidden / plan_.tp;
  const bool deepnorm = cfg_.residual == ResidualKind::deepnorm;
  const double alpha = cfg_.deepnorm_alpha();
  Scratch& s = *scratch_;
  if (!a.complete) { // recompute what keep_for_backward dropped, with the forward's own kernels
    if (exec_.recompute == Recompute::full) {
      layer_forward(l, mb, a.x.data(), sized(s.extra, N * H), a);
    } else {
      const int64_t Sa = attn_len(mb);
      a.probs.resize(size_t(B * d.nhl * Sa * Sa));
      cpu::glm_attention_forward(a.qkv.f(), mask_seps(mb), sized(s.small, B * Sa * Hl), a.probs.data(), B, Sa,
                                 d.nhl, d.hd);
    }
  }
  const Weights w = layer_weights(l);
  const LayerGrads<T> g = layer_grads(table_, grads_.data(), l);
  // FFN: out = r2 + act Wdown^T + bdown.
  T* dact = sized(s.act, N * Fl);
  T* du = cfg_.gated() ? sized(s.extra, N * Ul) : dact; // GeLU's backward is element-wise: in place
  T* dh2 = sized(s.h, N * H);
  T* dx1 = sized(s.h2, N * H);
  linear_bwd(dout, a.act.in(), w.down_w, dact, g.down_w, g.down_b, N, Fl, H);
  lora_backward(l, 3, a.act.in(), dout, dact, Fl, H, mb, a);
  const T* u = a.u.values(s.wide);
  if (cfg_.ffn == FfnKind::geglu)
    cpu::geglu_backward(u, dact, du, N, Fl);
  else if (cfg_.ffn == FfnKind::swiglu)
    cpu::swiglu_backward(u, dact, du, N, Fl);
  else
    cpu::gelu_backward(u, dact, du, N * Fl);
  linear_bwd(du, a.h2.in(), w.up_w, dh2, g.up_w, g.up_b, N, H, Ul);
  lora_backward(l, 2, a.h2.in(), du, dh2, H, Ul, mb, a);
  tp_sum(dh2, N * H); // column-parallel input gradient: sum over tp
  if (deepnorm) {     // out = alpha h2 + ...: dh2 += alpha dout; dx1 = LN2'(dh2)
    cpu::axpy(alpha, dout, dh2, N * H);
    norm_backward(dh2, a.x1.data(), w.ln2_w, a.mean2, a.rstd2, dx1, g.ln2_w, g.ln2_b, N, false);
  } else { // out = x1 + ...: dx1 = dout + norm2'(dh2)
    std::copy(dout, dout + N * H, dx1);
    norm_backward(dh2, a.x1.data(), w.ln2_w, a.mean2, a.rstd2, dx1, g.ln2_w, g.ln2_b, N, true);
  }
  // Attention: x1 = r1 + ctx Wo^T + bo.
  T* dctx = sized(s.small, N * Hl);
  T* dqkv = sized(s.wide, N * W); // u is no longer read
  T* dh = dh2;                    // dh2 is consumed
  linear_bwd(dx1, a.ctx.in(), w.o_w, dctx, g.o_w, g.o_b, N, Hl, H);
  lora_backward(l, 1, a.ctx.in(), dx1, dctx, Hl, H, mb, a);
  if (spec_.prefix()) { // over [B, P+S] rows; the prefix's key/value gradients go to the encoder
    T* dext = sized(s.dext, B * attn_len(mb) * W);
    attention_backward(mb, prefix_pad_dctx(mb, dctx), a, dext);
    prefix_backward(l, mb, dext, dqkv);
  } else {
    attention_backward(mb, dctx, a, dqkv);
  }
  rope(cfg_, d, dqkv, mb, true);
  linear_bwd(dqkv, a.h.in(), w.qkv_w, dh, g.qkv_w, g.qkv_b, N, H, W);
  lora_backward(l, 0, a.h.in(), dqkv, dh, H, W, mb, a);
  tp_sum(dh, N * H);
  if (deepnorm) {
    cpu::axpy(alpha, dx1, dh, N * H);
    norm_backward(dh, a.x.data(), w.ln1_w, a.mean1, a.rstd1, dx, g.ln1_w, g.ln1_b, N, false);
  } else {
    std::copy(dx1, dx1 + N * H, dx);
    norm_backward(dh, a.x.data(), w.ln1_w, a.mean1, a.rstd1, dx, g.ln1_w, g.ln1_b, N, true);
  }
}

// The members defined in this file (the class itself is instantiated in glm_model.cpp).
#define GLM3D_LAYER_MEMBERS(T)                                                                               \
  template int64_t GlmModel<T>::LayerActs::bytes() const;                                                    \
  template void GlmModel<T>::LayerActs::release_all_but_input();                                             \
  template GlmModel<T>::Weights GlmModel<T>::layer_weights(int);                                             \
  template void GlmModel<T>::attention_forward(const MicroBatch&, T*, LayerActs&);                           \
  template void GlmModel<T>::attention_core(const MicroBatch&, const T*, LayerActs&);                        \
  template void GlmModel<T>::attention_backward(const MicroBatch&, const T*, LayerActs&, T*);                \
  template void GlmModel<T>::layer_forward(int, const MicroBatch&, const T*, T*, LayerActs&);                \
  template void GlmModel<T>::keep_for_backward(LayerActs&) const;                                            \
  template void GlmModel<T>::layer_backward(int, const MicroBatch&, const T*, T*, LayerActs&);               \
  template const int32_t* GlmModel<T>::mask_seps(const MicroBatch&);                                         \
  template void GlmModel<T>::norm_forward(const T*, const T*, const T*, T*, std::vector<T>&,                 \
                                          std::vector<T>&, int64_t);                                         \
  template void GlmModel<T>::norm_backward(const T*, const T*, const T*, const std::vector<T>&,              \
                                           const std::vector<T>&, T*, T*, T*, int64_t, bool);                \
  template void GlmModel<T>::ffn_activation(const T*, T*, int64_t);
GLM3D_LAYER_MEMBERS(float)
GLM3D_LAYER_MEMBERS(double)

} // namespace glm3d
