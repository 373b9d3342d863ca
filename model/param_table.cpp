#include "model/param_table.h"

#include "core/check.h"
#include "parallel/parallel_dims.h"

#include <algorithm>

namespace glm3d {

std::vector<RowSegment> ParamInfo::row_segments(int tp_rank) const {
  switch (split) {
  case Split::rows:
    return {{0, local_rows, int64_t(tp_rank) * local_rows}};
  case Split::glu_rows: {
    const int64_t hl = local_rows / 2, half = rows / 2;
    return {{0, hl, int64_t(tp_rank) * hl}, {hl, hl, half + int64_t(tp_rank) * hl}};
  }
  case Split::qkv_packed: {
    const int64_t q = heads / tp * head_dim;
    const int64_t groups_here = std::max<int64_t>(1, groups / tp);
    const int64_t g0 = tp >= groups ? tp_rank / (tp / groups) : int64_t(tp_rank) * groups_here;
    const int64_t kv = groups_here * head_dim;
    return {{0, q, int64_t(tp_rank) * q},
            {q, kv, heads * head_dim + g0 * head_dim},
            {q + kv, kv, (heads + groups) * head_dim + g0 * head_dim}};
  }
  default:
    return {};
  }
}

int64_t ParamInfo::global_index(int64_t i, int tp_rank) const {
  const int64_t r = i / local_cols, c = i % local_cols;
  switch (split) {
  case Split::replicated:
    return i;
  case Split::cols:
    return r * cols + int64_t(tp_rank) * local_cols + c;
  default:
    for (const RowSegment& s : row_segments(tp_rank))
      if (r >= s.local_begin && r < s.local_begin + s.rows)
        return (s.global_begin + r - s.local_begin) * cols + c;
  }
  return i;
}

std::pair<int64_t, int64_t> ParamInfo::kv_range() const {
  const int64_t q = heads / tp * head_dim * local_cols;
  return {q, numel()};
}

std::vector<std::pair<int64_t, int64_t>> ParamInfo::tp_unique_ranges(int tp_rank) const {
  if (split == Split::replicated)
    return tp_rank == 0 ? std::vector<std::pair<int64_t, int64_t>>{{0, numel()}}
                        : std::vector<std::pair<int64_t, int64_t>>{};
  if (kv_share() > 1 && tp_rank % kv_share() != 0)
    return {{0, kv_range().first}};
  return {{0, numel()}};
}

std::string layer_param_name(int layer, const char* suffix) {
  return "layers." + std::to_string(layer) + "." + suffix;
}

int layer_matrix_index(const std::string& name) {
  if (name.rfind("layers.", 0) != 0)
    return -1;
  const size_t dot = name.find('.', 7);
  if (dot == std::string::npos || dot == 7 || name.find_first_not_of("0123456789", 7) != dot)
    return -1;
  for (int i = 0; i < 4; ++i)
    if (name.compare(dot + 1, std::string::npos, k_layer_matrices[i]) == 0)
      return i;
  return -1;
}

ParamTable::ParamTable(const ModelConfig& cfg, const StagePlan& plan) : tied_(cfg.tie_embeddings) {
  const int64_t H = cfg.hidden, F = cfg.ffn_hidden, U = cfg.ffn_up_width(), Q = cfg.qkv_width();
  const bool deepnorm = cfg.residual == ResidualKind::deepnorm, ln = cfg.norm == NormKind::layernorm;
  // DeepNorm scales the init of v, the attention output and both FFN matrices by beta; pre-norm
  // models use Xavier with gain 1.
  const double beta = deepnorm ? cfg.deepnorm_beta() : 1.0;
  vpad_ = glm3d::padded_vocab(cfg.vocab, plan.tp);
  bool input_chunk = false, head_chunk = false;
  for (const auto& [first, count] : plan.chunks) {
    input_chunk |= first == 0;
    head_chunk |= first + count == cfg.num_layers;
  }
  if (plan.has_embedding && (tied_ || input_chunk)) {
    add("word_embeddings.weight", vpad_, H, Split::rows, true, Init::normal, cfg.init_std, -1, plan);
    params_.back().vocab_rows = true;
    params_.back().first_stage_only = tied_; // the tied copy on the last stage is the second
  }
  for (const auto& [first, count] : plan.chunks) {
    for (int l = first; l < first + count; ++l) {
      auto n = [&](const char* s) { return layer_param_name(l, s); };
      add(n("input_layernorm.weight"), H, 1, Split::replicated, false, Init::ones, 1, l, plan);
      if (ln)
        add(n("input_layernorm.bias"), H, 1, Split::replicated, false, Init::zeros, 1, l, plan);
      if (cfg.packed_qkv()) {
        add(n("attention.query_key_value.weight"), Q, H, Split::qkv_packed, true, Init::xavier, 1, l, plan,
            &cfg);
        if (cfg.qkv_bias)
          add(n("attention.query_key_value.bias"), Q, 1, Split::qkv_packed, false, Init::zeros, 1, l, plan,
              &cfg);
      } else {
        // q, k: Xavier gain 1; v: gain beta (DeepNorm), chosen per row inside qkv_xavier.
        add(n("attention.query_key_value.weight"), Q, H, Split::rows, true, Init::qkv_xavier, beta, l, plan);
        if (cfg.qkv_bias)
          add(n("attention.query_key_value.bias"), Q, 1, Split::rows, false, Init::zeros, 1, l, plan);
      }
      add(n("attention.dense.weight"), H, H, Split::cols, true, Init::xavier, beta, l, plan);
      if (cfg.linear_bias)
        add(n("attention.dense.bias"), H, 1, Split::replicated, false, Init::zeros, 1, l, plan);
      add(n("post_attention_layernorm.weight"), H, 1, Split::replicated, false, Init::ones, 1, l, plan);
      if (ln)
        add(n("post_attention_layernorm.bias"), H, 1, Split::replicated, false, Init::zeros, 1, l, plan);
      const Split up = cfg.gated() ? Split::glu_rows : Split::rows;
      add(n("mlp.dense_h_to_4h.weight"), U, H, up, true, Init::xavier, beta, l, plan);
      if (cfg.linear_bias)
        add(n("mlp.dense_h_to_4h.bias"), U, 1, up, false, Init::zeros, 1, l, plan);
      add(n("mlp.dense_4h_to_h.weight"), H, F, Split::cols, true, Init::xavier, beta, l, plan);
      if (cfg.linear_bias)
        add(n("mlp.dense_4h_to_h.bias"), H, 1, Split::replicated, false, Init::zeros, 1, l, plan);
    }
  }
  if (head_chunk) {
    add("final_layernorm.weight", H, 1, Split::replicated, false, Init::ones, 1, -1, plan);
    if (ln)
      add("final_layernorm.bias", H, 1, Split::replicated, false, Init::zeros, 1, -1, plan);
    if (!tied_) {
      add("output_layer.weight", vpad_, H, Split::rows, true, Init::normal, cfg.init_std, -1, plan);
      params_.back().vocab_rows = true;
    }
  }
  total_ = (total_ + 15) / 16 * 16;
}

void ParamTable::add(const std::string& name, int64_t rows, int64_t cols, Split split, bool wd, Init init,
                     double gain, int layer, const StagePlan& plan, const ModelConfig* attn) {
  ParamInfo p;
  p.name = name;
  p.rows = rows;
  p.cols = cols;
  p.split = split;
  p.local_rows = rows;
  p.local_cols = cols;
  p.tp = plan.tp;
  if (split == Split::qkv_packed) {
    p.heads = attn->num_heads;
    p.groups = attn->kv_heads();
    p.head_dim = attn->head_dim();
    GLM3D_CHECK(p.heads % plan.tp == 0 && (p.groups % plan.tp == 0 || plan.tp % p.groups == 0))
        << name << ": " << p.heads << " heads and " << p.groups << " key/value groups do not split over tp "
        << plan.tp;
    p.local_rows = (p.heads / plan.tp + 2 * std::max<int64_t>(1, p.groups / plan.tp)) * p.head_dim;
  } else if (split == Split::rows || split == Split::glu_rows) {
    GLM3D_CHECK(rows % plan.tp == 0) << name << ": " << rows << " rows do not split over tp " << plan.tp;
    p.local_rows = rows / plan.tp;
  } else if (split == Split::cols) {
    GLM3D_CHECK(cols % plan.tp == 0) << name << ": " << cols << " cols do not split over tp " << plan.tp;
    p.local_cols = cols / plan.tp;
  }
  p.offset = total_;
  p.weight_decay = wd;
  p.init = init;
  p.gain = gain;
  p.layer = layer;
  total_ += p.numel();
  params_.push_back(p);
}

const ParamInfo* ParamTable::find(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name)
      return &p;
  return nullptr;
}

const ParamInfo& ParamTable::get(const std::string& name) const {
  const ParamInfo* p = find(name);
  GLM3D_CHECK(p) << "no parameter named '" << name << "' on this rank";
  return *p;
}

ParamTable ParamTable::without_layer_matrices() const {
  ParamTable t = *this;
  t.params_.clear();
  t.total_ = 0;
  for (ParamInfo p : params_)
    if (layer_matrix_index(p.name) < 0) {
      p.offset = t.total_;
      t.total_ += p.numel();
      t.params_.push_back(std::move(p));
    }
  t.total_ = (t.total_ + 15) / 16 * 16;
  return t;
}

ParamTable ParamTable::of_base(const ModelConfig& cfg, const StagePlan& plan, bool nf4_base) {
  ParamTable t(cfg, plan);
  return nf4_base ? t.without_layer_matrices() : t;
}

std::pair<int64_t, int64_t> ParamTable::layer_range(int layer) const {
  int64_t b = -1, e = -1;
  for (const auto& p : params_) {
    if (p.layer != layer)
      continue;
    if (b < 0)
      b = p.offset;
    e = p.offset + p.numel();
  }
  GLM3D_CHECK(b >= 0) << "layer " << layer << " is not on this rank";
  return {b, e};
}

} // namespace glm3d
