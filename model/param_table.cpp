#include "model/param_table.h"

#include "core/check.h"
#include "parallel/parallel_dims.h"

namespace glm3d {

int64_t ParamInfo::global_index(int64_t i, int tp_rank) const {
  const int64_t r = i / local_cols, c = i % local_cols;
  switch (split) {
  case Split::replicated:
    return i;
  case Split::rows:
    return (int64_t(tp_rank) * local_rows + r) * cols + c;
  case Split::cols:
    return r * cols + int64_t(tp_rank) * local_cols + c;
  case Split::glu_rows: {
    const int64_t half_local = local_rows / 2, half = rows / 2;
    const int64_t which = r / half_local, rr = r % half_local;
    return (which * half + int64_t(tp_rank) * half_local + rr) * cols + c;
  }
  }
  return i;
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

ParamTable::ParamTable(const ModelConfig& cfg, const StagePlan& plan) {
  const int64_t H = cfg.hidden, F = cfg.ffn_hidden, U = cfg.ffn_up_width();
  const double beta = cfg.deepnorm_beta();
  vpad_ = glm3d::padded_vocab(cfg.vocab, plan.tp);
  if (plan.has_embedding)
    add("word_embeddings.weight", vpad_, H, Split::rows, true, Init::normal, cfg.init_std, -1, plan);
  for (const auto& [first, count] : plan.chunks) {
    for (int l = first; l < first + count; ++l) {
      auto n = [&](const char* s) { return layer_param_name(l, s); };
      add(n("input_layernorm.weight"), H, 1, Split::replicated, false, Init::ones, 1, l, plan);
      add(n("input_layernorm.bias"), H, 1, Split::replicated, false, Init::zeros, 1, l, plan);
      // q, k: Xavier gain 1; v: gain beta (DeepNorm), chosen per row inside qkv_xavier.
      add(n("attention.query_key_value.weight"), 3 * H, H, Split::rows, true, Init::qkv_xavier, beta, l,
          plan);
      add(n("attention.query_key_value.bias"), 3 * H, 1, Split::rows, false, Init::zeros, 1, l, plan);
      add(n("attention.dense.weight"), H, H, Split::cols, true, Init::xavier, beta, l, plan);
      add(n("attention.dense.bias"), H, 1, Split::replicated, false, Init::zeros, 1, l, plan);
      add(n("post_attention_layernorm.weight"), H, 1, Split::replicated, false, Init::ones, 1, l, plan);
      add(n("post_attention_layernorm.bias"), H, 1, Split::replicated, false, Init::zeros, 1, l, plan);
      const Split up = cfg.ffn == FfnKind::geglu ? Split::glu_rows : Split::rows;
      add(n("mlp.dense_h_to_4h.weight"), U, H, up, true, Init::xavier, beta, l, plan);
      add(n("mlp.dense_h_to_4h.bias"), U, 1, up, false, Init::zeros, 1, l, plan);
      add(n("mlp.dense_4h_to_h.weight"), H, F, Split::cols, true, Init::xavier, beta, l, plan);
      add(n("mlp.dense_4h_to_h.bias"), H, 1, Split::replicated, false, Init::zeros, 1, l, plan);
    }
  }
  bool last_chunk_here = false;
  for (const auto& [first, count] : plan.chunks)
    last_chunk_here |= first + count == cfg.num_layers;
  if (last_chunk_here) {
    add("final_layernorm.weight", H, 1, Split::replicated, false, Init::ones, 1, -1, plan);
    add("final_layernorm.bias", H, 1, Split::replicated, false, Init::zeros, 1, -1, plan);
  }
  total_ = (total_ + 15) / 16 * 16;
}

void ParamTable::add(const std::string& name, int64_t rows, int64_t cols, Split split, bool wd, Init init,
                     double gain, int layer, const StagePlan& plan) {
  ParamInfo p;
  p.name = name;
  p.rows = rows;
  p.cols = cols;
  p.split = split;
  p.local_rows = rows;
  p.local_cols = cols;
  if (split == Split::rows || split == Split::glu_rows) {
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
