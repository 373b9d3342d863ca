// GlmModel's P-tuning v2 prefix (model/prefix.h for the encoder): each layer's attention runs
// over an extended sequence of P + S rows per sample, [prefix | tokens]:
//   rows [0, P)      q = 0, k, v = the layer's prefix keys and values (this rank's heads, after
//                    dropout; no RoPE: ChatGLM concatenates them as cached, rotated-free keys)
//   rows [P, P + S)  the tokens' q, k, v (after RoPE)
// with the mask's Part A length P + sep (P for a causal mask): query P + i sees every prefix key
// and the tokens it saw before; positions are not shifted. The prefix rows' outputs and query
// gradients are dropped; their key/value gradients flow into the encoder.
#include "core/check.h"
#include "core/philox.h"
#include "model/glm_model.h"
#include "model/glm_model_impl.h"

#include <algorithm>
#include <string>

namespace glm3d {

namespace {
// q, k, v inside one row group of a [rows, W] buffer (ChatGLM-6B interleaving or [Q | K | V]).
template <class U> cpu::QkvView<U> view_at(U* buf, const ModelConfig& c, int tp) {
  const int64_t nhl = c.num_heads / tp, hd = c.head_dim();
  if (c.packed_qkv())
    return cpu::packed_qkv(buf, nhl, std::max<int64_t>(1, c.kv_heads() / tp), hd);
  return cpu::interleaved_qkv(buf, nhl, hd);
}
int64_t local_groups(const ModelConfig& c, int tp) {
  return c.packed_qkv() ? std::max<int64_t>(1, c.kv_heads() / tp) : c.num_heads / tp;
}
} // namespace

template <class T> PrefixEncoderRef<T> GlmModel<T>::prefix_encoder() {
  PrefixEncoderRef<T> e;
  auto p = [&](const char* n) { return atable_->get(std::string("prefix_encoder.") + n); };
  const ParamInfo& emb = p("embedding.weight");
  e.P = spec_.pre_seq_len;
  e.H = cfg_.hidden;
  e.C = cfg_.num_layers * prefix_kv_width(cfg_);
  e.E = emb.cols;
  e.projection = spec_.prefix_projection;
  e.emb = aparams_.data() + emb.offset;
  e.gemb = agrads_.data() + emb.offset;
  if (e.projection) {
    const ParamInfo &w0 = p("trans.0.weight"), &b0 = p("trans.0.bias"), &w2 = p("trans.2.weight"),
                    &b2 = p("trans.2.bias");
    e.w0 = aparams_.data() + w0.offset;
    e.b0 = aparams_.data() + b0.offset;
    e.w2 = aparams_.data() + w2.offset;
    e.b2 = aparams_.data() + b2.offset;
    e.gw0 = agrads_.data() + w0.offset;
    e.gb0 = agrads_.data() + b0.offset;
    e.gw2 = agrads_.data() + w2.offset;
    e.gb2 = agrads_.data() + b2.offset;
  }
  return e;
}

// This rank's key/value heads of layer l: the groups the model's own K/V rows hold (replicated
// on tp / groups ranks when tp > groups).
template <class T> PrefixSlice GlmModel<T>::prefix_slice(int l) const {
  const int64_t hd = cfg_.head_dim(), kvw = cfg_.kv_heads() * hd, gl = local_groups(cfg_, plan_.tp);
  const int64_t groups = cfg_.kv_heads(), tp = plan_.tp;
  const int64_t g0 = tp >= groups ? plan_.tp_rank / (tp / groups) : int64_t(plan_.tp_rank) * gl;
  return {2 * l * kvw + g0 * hd, (2 * l + 1) * kvw + g0 * hd, gl * hd};
}

template <class T> void GlmModel<T>::prefix_prepare() {
  prefix_kv_.clear();
  if (!spec_.prefix())
    return;
  const PrefixEncoderRef<T> e = prefix_encoder();
  if (e.projection) {
    prefix_t_.resize(size_t(e.P * e.H));
    prefix_hidden(e, prefix_t_.data());
  }
  for (const auto& [first, count] : plan_.chunks)
    for (int l = first; l < first + count; ++l) {
      const PrefixSlice s = prefix_slice(l);
      std::vector<T>& kv = prefix_kv_[l];
      kv.resize(size_t(e.P * 2 * s.w));
      prefix_slice_forward(e, prefix_t_.data(), s, kv.data());
    }
}

// The dropout stream of layer l at this step; 0 when no dropout applies (eval, p = 0).
template <class T> uint64_t GlmModel<T>::prefix_dropout_key(int l) const {
  if (!training || spec_.prefix_dropout <= 0)
    return 0;
  return stream_key(spec_.seed, "prefix_dropout/" + std::to_string(step_) + "/" + std::to_string(l)) | 1;
}

// Dropout of prefix element (sample b of mb, position p, encoder column col) for a layer's key.
template <class T>
double GlmModel<T>::prefix_keep(uint64_t key, const MicroBatch& mb, int64_t b, int64_t p, int64_t col) const {
  if (key == 0)
    return 1.0;
  const int64_t k = mb.sample_ids.empty() ? b : mb.sample_ids[size_t(b)];
  const int64_t P = spec_.pre_seq_len, C = cfg_.num_layers * prefix_kv_width(cfg_);
  return dropout_keep_scale(key, uint64_t((k * P + p) * C + col), spec_.prefix_dropout);
}

template <class T> T* GlmModel<T>::prefix_extend(int l, const MicroBatch& mb, const T* qkv, LayerActs& a) {
  const int64_t B = mb.B, S = mb.S, P = spec_.pre_seq_len, L = P + S, hd = cfg_.head_dim();
  const int64_t nhl = cfg_.num_heads / plan_.tp, gl = local_groups(cfg_, plan_.tp);
  const int64_t W = (nhl + (cfg_.packed_qkv() ? 2 * gl : 2 * nhl)) * hd;
  const auto it = prefix_kv_.find(l);
  GLM3D_CHECK(it != prefix_kv_.end()) << "layer " << l << ": the prefix was not prepared (set_batch)";
  const PrefixSlice s = prefix_slice(l);
  const uint64_t key = prefix_dropout_key(l);
  T* ext = a.qkv.begin_write(B * L * W, exec_.bf16(), scratch_->ext); // [B, P+S, W]
  const cpu::QkvView<T> v = view_at(ext, cfg_, plan_.tp);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t p = 0; p < P; ++p) {
      const int64_t row = b * L + p;
      for (int64_t h = 0; h < nhl; ++h)
        std::fill(v.q.at(row, h), v.q.at(row, h) + hd, T(0));
      const T* kv = it->second.data() + p * 2 * s.w; // [2, w]
      for (int64_t g = 0; g < gl; ++g)
        for (int64_t d = 0; d < hd; ++d) {
          const int64_t j = g * hd + d;
          v.k.at(row, g)[d] = T(double(kv[j]) * prefix_keep(key, mb, b, p, s.key + j));
          v.v.at(row, g)[d] = T(double(kv[s.w + j]) * prefix_keep(key, mb, b, p, s.value + j));
        }
    }
    std::copy(qkv + b * S * W, qkv + (b + 1) * S * W, ext + (b * L + P) * W);
  }
  return ext;
}

template <class T> void GlmModel<T>::prefix_strip_ctx(const MicroBatch& mb, LayerActs& a) {
  const int64_t B = mb.B, S = mb.S, P = spec_.pre_seq_len, L = P + S, Hl = cfg_.hidden / plan_.tp;
  auto rows = [&](const auto* src, auto* dst) {
    for (int64_t b = 0; b < B; ++b)
      std::copy(src + (b * L + P) * Hl, src + (b + 1) * L * Hl, dst + b * S * Hl);
  };
  if (a.ctx_ext.is_bf16())
    rows(a.ctx_ext.b(), a.ctx.bf16_slot(B * S * Hl));
  else
    rows(a.ctx_ext.f(), a.ctx.begin_write(B * S * Hl, false, scratch_->small));
}

template <class T> const T* GlmModel<T>::prefix_pad_dctx(const MicroBatch& mb, const T* dctx) {
  const int64_t B = mb.B, S = mb.S, P = spec_.pre_seq_len, L = P + S, Hl = cfg_.hidden / plan_.tp;
  T* out = sized(scratch_->dctx_ext, B * L * Hl);
  for (int64_t b = 0; b < B; ++b) {
    std::fill(out + b * L * Hl, out + (b * L + P) * Hl, T(0));
    std::copy(dctx + b * S * Hl, dctx + (b + 1) * S * Hl, out + (b * L + P) * Hl);
  }
  return out;
}

template <class T> void GlmModel<T>::prefix_backward(int l, const MicroBatch& mb, const T* dext, T* dqkv) {
  const int64_t B = mb.B, S = mb.S, P = spec_.pre_seq_len, L = P + S, hd = cfg_.head_dim();
  const int64_t nhl = cfg_.num_heads / plan_.tp, gl = local_groups(cfg_, plan_.tp);
  const int64_t W = (nhl + (cfg_.packed_qkv() ? 2 * gl : 2 * nhl)) * hd;
  const PrefixSlice s = prefix_slice(l);
  const uint64_t key = prefix_dropout_key(l);
  const cpu::QkvView<const T> v = view_at(dext, cfg_, plan_.tp);
  std::vector<T> dkv(size_t(P * 2 * s.w), T(0)); // [P, 2, w] summed over the samples
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t p = 0; p < P; ++p)
      for (int64_t g = 0; g < gl; ++g)
        for (int64_t d = 0; d < hd; ++d) {
          const int64_t j = g * hd + d, row = b * L + p;
          dkv[size_t(p * 2 * s.w + j)] +=
              T(double(v.k.at(row, g)[d]) * prefix_keep(key, mb, b, p, s.key + j));
          dkv[size_t(p * 2 * s.w + s.w + j)] +=
              T(double(v.v.at(row, g)[d]) * prefix_keep(key, mb, b, p, s.value + j));
        }
    std::copy(dext + (b * L + P) * W, dext + (b + 1) * L * W, dqkv + b * S * W);
  }
  prefix_slice_backward(prefix_encoder(), prefix_t_.data(), s, dkv.data());
}

#define GLM3D_PREFIX_MEMBERS(T)                                                                              \
  template PrefixEncoderRef<T> GlmModel<T>::prefix_encoder();                                                \
  template PrefixSlice GlmModel<T>::prefix_slice(int) const;                                                 \
  template void GlmModel<T>::prefix_prepare();                                                               \
  template uint64_t GlmModel<T>::prefix_dropout_key(int) const;                                              \
  template double GlmModel<T>::prefix_keep(uint64_t, const MicroBatch&, int64_t, int64_t, int64_t) const;    \
  template T* GlmModel<T>::prefix_extend(int, const MicroBatch&, const T*, LayerActs&);                      \
  template void GlmModel<T>::prefix_strip_ctx(const MicroBatch&, LayerActs&);                                \
  template const T* GlmModel<T>::prefix_pad_dctx(const MicroBatch&, const T*);                               \
  template void GlmModel<T>::prefix_backward(int, const MicroBatch&, const T*, T*);
GLM3D_PREFIX_MEMBERS(float)
GLM3D_PREFIX_MEMBERS(double)

} // namespace glm3d
