// One transformer layer of an InferenceModel over the KV cache: the same arithmetic as training
// (model/glm_layer.cpp) for the new tokens only, their keys and values appended to the cache.
#include "core/check.h"
#include "core/cpu/activation.h"
#include "core/cpu/elementwise.h"
#include "core/cpu/rope.h"
#include "infer/inference_model.h"
#include "infer/inference_model_impl.h"

#include <algorithm>

namespace glm3d {

namespace {
// q, k, v of the step's [T, W] qkv rows: ChatGLM-6B's per-head interleaving, or ChatGLM2/3's
// [Q (nhl hd) | K (ngl hd) | V (ngl hd)].
cpu::QkvView<float> step_view(float* qkv, const ModelConfig& c, int64_t nhl, int64_t ngl) {
  return c.packed_qkv() ? cpu::packed_qkv(qkv, nhl, ngl, c.head_dim())
                        : cpu::interleaved_qkv(qkv, nhl, c.head_dim());
}
} // namespace

// qkv [T, W] after RoPE (W = (nhl + 2 ngl) hd): the new keys and values go to the cache, then
// each sequence's new queries attend over its slots [first, first + cached + count) with the GLM
// mask (keys [0, max(sep, p + 1))) or, for a causal model, sep 0. ctx [T, Hl] overwritten.
void InferenceModel::attention(int local, const StepBatch& step, KvCache& cache, float* qkv, float* ctx) {
  const int64_t nhl = cfg_.num_heads / plan_.tp, ngl = kv_heads_local(), hd = cfg_.head_dim();
  const int64_t kv = cache.token_stride();
  const cpu::QkvView<float> all = step_view(qkv, cfg_, nhl, ngl);
  const bool causal = cfg_.mask == MaskKind::causal;
  int64_t t = 0; // the sequence's first new token in the packed step
  for (int64_t b = 0; b < step.size(); ++b) {
    const int64_t row = step.row[size_t(b)], first = step.first[size_t(b)];
    const int64_t cached = step.cached[size_t(b)], n = step.count[size_t(b)], keys = cached + n;
    GLM3D_CHECK(row < cache.rows() && first + keys <= cache.slots())
        << "sequence " << b << " needs cache slots up to " << first + keys << " of row " << row
        << ", the cache has " << cache.slots() << " slots and " << cache.rows() << " rows";
    for (int64_t i = 0; i < n; ++i) {
      float* k = cache.k(local, row, first + cached + i);
      float* v = cache.v(local, row, first + cached + i);
      for (int64_t g = 0; g < ngl; ++g) {
        const float* ks = all.k.at(t + i, g);
        const float* vs = all.v.at(t + i, g);
        std::copy(ks, ks + hd, k + g * hd);
        std::copy(vs, vs + hd, v + g * hd);
      }
    }
    // q: the step's rows of this sequence; k, v: the cache row from token 0.
    const cpu::QkvView<const float> x{{all.q.at(t, 0), all.q.tok, all.q.head_stride},
                                      {cache.k(local, row, first), kv, hd},
                                      {cache.v(local, row, first), kv, hd}};
    const int32_t sep = causal ? 0 : step.sep[size_t(b)];
    cpu::flash_attention_cached<float>(x, &sep, ctx + t * nhl * hd, {1, keys, nhl, ngl, hd}, n,
                                       scratch_->flash);
    t += n;
  }
}

// RoPE in place on the step's q and k: ChatGLM-6B's (1D / 2D over [T, nhl, 3, hd]) or
// ChatGLM2/3's half-interleaved rotation of q and the key groups, by the step's positions.
void InferenceModel::rope(const StepBatch& step, float* qkv) {
  const int64_t T = step.total(), nhl = cfg_.num_heads / plan_.tp, hd = cfg_.head_dim();
  if (cfg_.rope == RopeKind::half_interleaved) {
    const int64_t ngl = kv_heads_local();
    const cpu::QkvView<float> v = step_view(qkv, cfg_, nhl, ngl);
    cpu::rope_interleaved_forward(v.q, nhl, v.k, ngl, step.position.data(), 1, T, hd, cfg_.rope_base);
    return;
  }
  const int32_t* block = cfg_.rope == RopeKind::two_d ? step.block.data() : nullptr;
  cpu::rope_forward(qkv, step.position.data(), block, 1, T, nhl, hd, cfg_.rope_base); // T tokens, own ids
}

// x [T, H] in place: the layer's input, then its output. DeepNorm: x1 = alpha LN1(x) + attn,
// out = alpha LN2(x1) + ffn; pre-norm: x1 = x + attn(norm1(x)), out = x1 + ffn(norm2(x1)).
void InferenceModel::layer_forward(int local, const StepBatch& step, KvCache& cache, float* x) {
  const int64_t T = step.total(), H = cfg_.hidden, tp = plan_.tp;
  const int64_t Hl = H / tp, W = (cfg_.num_heads / tp + 2 * kv_heads_local()) * cfg_.head_dim();
  const int64_t Ul = cfg_.ffn_up_width() / tp, Fl = cfg_.ffn_hidden / tp;
  const bool deepnorm = cfg_.residual == ResidualKind::deepnorm;
  const double alpha = deepnorm ? cfg_.deepnorm_alpha() : 1.0;
  const Layer& w = layers_[size_t(local)];
  const auto& lin = linears_[size_t(local)];
  Scratch& s = *scratch_;
  // Attention: [T, H] -> qkv [T, W] -> ctx [T, Hl] -> x1 [T, H].
  float* h = grown(s.h, T * H);
  norm(x, w.ln1_w, w.ln1_b, h, T);
  float* qkv = grown(s.wide, T * std::max(W, Ul));
  lin[k_qkv].forward(h, w.qkv_b, qkv, T, s.lin);
  rope(step, qkv);
  float* ctx = grown(s.ctx, T * Hl);
  attention(local, step, cache, qkv, ctx);
  float* x1 = grown(s.x1, T * H);
  lin[k_dense].forward(ctx, nullptr, x1, T, s.lin);
  tp_sum(x1, T * H);
  cpu::scale_add(deepnorm ? h : x, alpha, x1, w.o_b, x1, T, H); // x1 = r1 + (partial + bias)
  // FFN: [T, H] -> u [T, Ul] -> act [T, Fl] -> [T, H].
  float* h2 = grown(s.h2, T * H);
  norm(x1, w.ln2_w, w.ln2_b, h2, T);
  float* u = qkv; // qkv is no longer read
  lin[k_up].forward(h2, w.up_b, u, T, s.lin);
  float* act = grown(s.act, T * Fl);
  if (cfg_.ffn == FfnKind::geglu)
    cpu::geglu_forward(u, act, T, Fl);
  else if (cfg_.ffn == FfnKind::swiglu)
    cpu::swiglu_forward(u, act, T, Fl);
  else
    cpu::gelu_forward(u, act, T * Fl);
  lin[k_down].forward(act, nullptr, x, T, s.lin);
  tp_sum(x, T * H);
  cpu::scale_add(deepnorm ? h2 : x1, alpha, x, w.down_b, x, T, H);
}

} // namespace glm3d
