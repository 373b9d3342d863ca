// InferenceModel: weights, the embedding and the head. One layer is in inference_layer.cpp.
#include "infer/inference_model.h"

#include "core/check.h"
#include "core/cpu/embedding.h"
#include "core/cpu/layernorm.h"
#include "core/cpu/matmul.h"
#include "core/cpu/rmsnorm.h"
#include "infer/inference_model_impl.h"

#include <algorithm>

namespace glm3d {

InferenceModel::InferenceModel(const ModelConfig& cfg, const StagePlan& plan, Communicator& tp)
    : cfg_(cfg), plan_(plan), table_(cfg, plan), tp_(tp), scratch_(std::make_unique<Scratch>()) {
  GLM3D_CHECK(plan.chunks.size() == 1)
      << "inference runs one chunk of layers per rank, got " << plan.chunks.size();
  GLM3D_CHECK(tp.size() == plan.tp) << "tp communicator size " << tp.size() << " != plan tp " << plan.tp;
  int64_t n = 0;
  for (const ParamInfo& p : table_.params()) {
    const bool matrix = layer_matrix_index(p.name) >= 0;
    float_at_.push_back(matrix ? -1 : n);
    n += matrix ? 0 : p.numel();
  }
  floats_.assign(size_t(n), 0.0f); // padded vocabulary rows stay zero
  linears_.resize(size_t(num_layers()));
  for (int i = 0; i < num_layers(); ++i) {
    auto v = [&](const char* s) -> const float* { // absent (RMSNorm, ChatGLM2's linears): null
      const ParamInfo* p = table_.find(layer_param_name(first_layer() + i, s));
      return p ? float_param(*p) : nullptr;
    };
    layers_.push_back({v("input_layernorm.weight"), v("input_layernorm.bias"),
                       v("attention.query_key_value.bias"), v("attention.dense.bias"),
                       v("post_attention_layernorm.weight"), v("post_attention_layernorm.bias"),
                       v("mlp.dense_h_to_4h.bias"), v("mlp.dense_4h_to_h.bias")});
  }
}

InferenceModel::~InferenceModel() = default;

float* InferenceModel::float_param(const ParamInfo& p) {
  const int64_t at = float_at_[size_t(&p - table_.params().data())];
  return at < 0 ? nullptr : floats_.data() + at;
}

LinearWeight& InferenceModel::linear(int layer, LinearIndex i) {
  GLM3D_CHECK(layer >= first_layer() && layer < first_layer() + num_layers())
      << "layer " << layer << " is not on this stage";
  return linears_[size_t(layer - first_layer())][size_t(i)];
}

const LinearWeight& InferenceModel::linear(int layer, LinearIndex i) const {
  return const_cast<InferenceModel*>(this)->linear(layer, i);
}

void InferenceModel::set_weights(const float* flat, WeightFormat format) {
  GLM3D_CHECK(!is_quantized(format) || plan_.tp == 1)
      << "quantizing a tensor-parallel shard: load a quantized checkpoint instead";
  for (const ParamInfo& p : table_.params()) {
    if (float* dst = float_param(p)) {
      std::copy(flat + p.offset, flat + p.offset + p.numel(), dst);
      continue;
    }
    linear(p.layer, LinearIndex(layer_matrix_index(p.name)))
        .set(std::vector<float>(flat + p.offset, flat + p.offset + p.numel()), p.local_rows, p.local_cols,
             format);
  }
}

int64_t InferenceModel::linear_bytes() const {
  int64_t n = 0;
  for (const auto& layer : linears_)
    for (const LinearWeight& w : layer)
      n += w.bytes();
  return n;
}

KvCache InferenceModel::make_cache(int64_t rows, int64_t slots) const {
  return KvCache(num_layers(), rows, slots, kv_heads_local(), cfg_.head_dim());
}

int64_t InferenceModel::kv_heads_local() const {
  // ChatGLM2/3 under tp > groups: each rank holds the group its query heads use (replicated).
  return cfg_.packed_qkv() ? std::max<int64_t>(1, cfg_.kv_heads() / plan_.tp) : cfg_.num_heads / plan_.tp;
}

void InferenceModel::norm(const float* x, const float* w, const float* b, float* y, int64_t N) {
  Scratch& s = *scratch_;
  if (cfg_.norm == NormKind::rmsnorm)
    cpu::rmsnorm_forward(x, w, y, grown(s.rstd, N), N, cfg_.hidden, cfg_.ln_eps);
  else
    cpu::layernorm_forward(x, w, b, y, grown(s.mean, N), grown(s.rstd, N), N, cfg_.hidden, cfg_.ln_eps);
}

void InferenceModel::tp_sum(float* buf, int64_t n) {
  if (tp_.size() > 1)
    tp_.all_reduce(buf, size_t(n), ReduceOp::sum);
}

void InferenceModel::embed(const StepBatch& step, float* x) {
  const ParamInfo& e = table_.get("word_embeddings.weight");
  const int64_t T = step.total(), H = cfg_.hidden;
  cpu::embedding_forward(step.tokens.data(), float_param(e), x, T, H, int64_t(plan_.tp_rank) * e.local_rows,
                         e.local_rows);
  tp_sum(x, T * H);
}

void InferenceModel::forward(const StepBatch& step, KvCache& cache, std::vector<float>& x) {
  const int64_t T = step.total(), H = cfg_.hidden;
  GLM3D_CHECK(T > 0 && int64_t(step.position.size()) == T && int64_t(step.block.size()) == T)
      << "step of " << T << " tokens with " << step.position.size() << " positions";
  x.resize(size_t(T * H));
  if (has_input())
    embed(step, x.data());
  for (int i = 0; i < num_layers(); ++i)
    layer_forward(i, step, cache, x.data());
}

void InferenceModel::logits(const StepBatch& step, const float* x, float* out) {
  GLM3D_CHECK(has_head()) << "logits on a stage without the head";
  const int64_t B = step.size(), H = cfg_.hidden;
  const ParamInfo& e = table_.get(table_.head_name());
  const int64_t Vl = e.local_rows, tp = plan_.tp;
  Scratch& s = *scratch_;
  float* last = grown(s.last, B * H); // [B, H]: each sequence's last new token
  int64_t t = 0;
  for (int64_t b = 0; b < B; ++b) {
    t += step.count[size_t(b)];
    std::copy(x + (t - 1) * H, x + t * H, last + b * H);
  }
  float* hf = grown(s.h, B * H);
  const ParamInfo* bias = table_.find("final_layernorm.bias");
  norm(last, float_param(table_.get("final_layernorm.weight")), bias ? float_param(*bias) : nullptr, hf, B);
  float* local = grown(s.logits, B * Vl); // [B, Vl] this rank's vocabulary rows
  cpu::linear_forward(hf, float_param(e), static_cast<const float*>(nullptr), local, B, H, Vl,
                      cpu::Precision::f32);
  const float* all = local; // [tp, B, Vl]
  if (tp > 1) {
    float* g = grown(s.gathered, tp * B * Vl);
    tp_.all_gather(local, g, size_t(B * Vl), DType::f32);
    all = g;
  }
  for (int64_t b = 0; b < B; ++b)
    for (int64_t r = 0; r < tp; ++r) {
      const int64_t v0 = r * Vl, n = std::min(Vl, cfg_.vocab - v0);
      if (n > 0)
        std::copy(all + (r * B + b) * Vl, all + (r * B + b) * Vl + n, out + b * cfg_.vocab + v0);
    }
}

} // namespace glm3d
