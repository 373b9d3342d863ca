// One transformer layer of an InferenceModel over the KV cache: the same arithmetic as training
// (model/glm_layer.cpp) for the new tokens only, their keys and values appended to the cache.
#include "core/check.h"
#include "core/cpu/activation.h"
#include "core/cpu/elementwise.h"
#include "core/cpu/layernorm.h"
#include "core/cpu/rope.h"
#include "infer/inference_model.h"
#include "infer/inference_model_impl.h"

#include <algorithm>

namespace glm3d {

// qkv [T, nhl, 3, hd] after RoPE: the new keys and values go to the cache, then each sequence's
// new queries attend over its slots [first, first + cached + count). ctx [T, Hl] overwritten.
void InferenceModel::attention(int local, const StepBatch& step, KvCache& cache, float* qkv, float* ctx) {
  const int64_t nhl = cfg_.num_heads / plan_.tp, hd = cfg_.head_dim(), kv = cache.token_stride();
  int64_t t = 0; // the sequence's first new token in the packed step
  for (int64_t b = 0; b < step.size(); ++b) {
    const int64_t row = step.row[size_t(b)], first = step.first[size_t(b)];
    const int64_t cached = step.cached[size_t(b)], n = step.count[size_t(b)], keys = cached + n;
    GLM3D_CHECK(row < cache.rows() && first + keys <= cache.slots())
        << "sequence " << b << " needs cache slots up to " << first + keys << " of row " << row
        << ", the cache has " << cache.slots() << " slots and " << cache.rows() << " rows";
    for (int64_t i = 0; i < n; ++i) {
      const float* tok = qkv + (t + i) * nhl * 3 * hd;
      float* k = cache.k(local, row, first + cached + i);
      float* v = cache.v(local, row, first + cached + i);
      for (int64_t h = 0; h < nhl; ++h) {
        std::copy(tok + (h * 3 + 1) * hd, tok + (h * 3 + 2) * hd, k + h * hd);
        std::copy(tok + (h * 3 + 2) * hd, tok + (h * 3 + 3) * hd, v + h * hd);
      }
    }
    // q: the step's rows of this sequence (interleaved); k, v: the cache row from token 0.
    const cpu::QkvView<const float> x{{qkv + t * nhl * 3 * hd, nhl * 3 * hd, 3 * hd},
                                      {cache.k(local, row, first), kv, hd},
                                      {cache.v(local, row, first), kv, hd}};
    cpu::flash_attention_cached<float>(x, &step.sep[size_t(b)], ctx + t * nhl * hd, {1, keys, nhl, nhl, hd},
                                       n, scratch_->flash);
    t += n;
  }
}

// x [T, H] in place: the layer's input, then its output.
void InferenceModel::layer_forward(int local, const StepBatch& step, KvCache& cache, float* x) {
  const int64_t T = step.total(), H = cfg_.hidden, tp = plan_.tp;
  const int64_t Hl = H / tp, nhl = cfg_.num_heads / tp, hd = cfg_.head_dim();
  const int64_t Ul = cfg_.ffn_up_width() / tp, Fl = cfg_.ffn_hidden / tp;
  const double alpha = cfg_.deepnorm_alpha();
  const Layer& w = layers_[size_t(local)];
  const auto& lin = linears_[size_t(local)];
  Scratch& s = *scratch_;
  float *mean = grown(s.mean, T), *rstd = grown(s.rstd, T);
  // Attention: [T, H] -> qkv [T, nhl, 3, hd] -> ctx [T, Hl] -> x1 [T, H].
  float* h = grown(s.h, T * H);
  cpu::layernorm_forward(x, w.ln1_w, w.ln1_b, h, mean, rstd, T, H, cfg_.ln_eps);
  float* qkv = grown(s.wide, T * std::max(3 * Hl, Ul));
  lin[k_qkv].forward(h, w.qkv_b, qkv, T, s.lin);
  const int32_t* block = cfg_.rope == RopeKind::two_d ? step.block.data() : nullptr;
  cpu::rope_forward(qkv, step.position.data(), block, 1, T, nhl, hd, cfg_.rope_base); // T tokens, own ids
  float* ctx = grown(s.ctx, T * Hl);
  attention(local, step, cache, qkv, ctx);
  float* x1 = grown(s.x1, T * H);
  lin[k_dense].forward(ctx, nullptr, x1, T, s.lin);
  tp_sum(x1, T * H);
  cpu::scale_add(h, alpha, x1, w.o_b, x1, T, H); // x1 = h * alpha + (partial + bias)
  // FFN: [T, H] -> u [T, Ul] -> act [T, Fl] -> [T, H].
  float* h2 = grown(s.h2, T * H);
  cpu::layernorm_forward(x1, w.ln2_w, w.ln2_b, h2, mean, rstd, T, H, cfg_.ln_eps);
  float* u = qkv; // qkv is no longer read
  lin[k_up].forward(h2, w.up_b, u, T, s.lin);
  float* act = grown(s.act, T * Fl);
  if (cfg_.ffn == FfnKind::geglu)
    cpu::geglu_forward(u, act, T, Fl);
  else
    cpu::gelu_forward(u, act, T * Fl);
  lin[k_down].forward(act, nullptr, x, T, s.lin);
  tp_sum(x, T * H);
  cpu::scale_add(h2, alpha, x, w.down_b, x, T, H);
}

} // namespace glm3d
