#include "model/adapters.h"

#include "core/check.h"
#include "parallel/parallel_dims.h"

#include <cmath>
#include <sstream>

namespace glm3d {

FinetuneMethod parse_finetune_method(const std::string& s) {
  if (s == "full")
    return FinetuneMethod::full;
  if (s == "lora")
    return FinetuneMethod::lora;
  if (s == "ptuning")
    return FinetuneMethod::ptuning;
  if (s == "qlora")
    return FinetuneMethod::qlora;
  GLM3D_USAGE_FAIL() << "--method must be full, lora, ptuning or qlora, got '" << s << "'";
}

std::string to_string(FinetuneMethod m) {
  switch (m) {
  case FinetuneMethod::full:
    return "full";
  case FinetuneMethod::lora:
    return "lora";
  case FinetuneMethod::ptuning:
    return "ptuning";
  case FinetuneMethod::qlora:
    return "qlora";
  default:
    return "none";
  }
}

std::string describe(const AdapterSpec& s) {
  std::ostringstream os;
  os << to_string(s.method);
  if (s.lora()) {
    os << " r " << s.lora_r << ", alpha " << s.lora_alpha << ", dropout " << s.lora_dropout << " on";
    for (const auto& t : s.lora_targets)
      os << " " << t;
    if (s.method == FinetuneMethod::qlora)
      os << ", base in NF4 with double quantization";
  }
  if (s.prefix())
    os << ": " << s.pre_seq_len << " prefix tokens" << (s.prefix_projection ? " through the MLP encoder" : "")
       << ", dropout " << s.prefix_dropout;
  return os.str();
}

const LinearModule* linear_modules() {
  static const LinearModule m[4] = {{"query_key_value", "attention.query_key_value.weight", true},
                                    {"dense", "attention.dense.weight", false},
                                    {"dense_h_to_4h", "mlp.dense_h_to_4h.weight", true},
                                    {"dense_4h_to_h", "mlp.dense_4h_to_h.weight", false}};
  return m;
}

std::set<std::string> parse_lora_targets(const std::string& csv) {
  std::set<std::string> out;
  std::stringstream ss(csv);
  std::string t;
  while (std::getline(ss, t, ',')) {
    bool known = false;
    for (int i = 0; i < 4; ++i)
      known |= t == linear_modules()[i].name;
    GLM3D_USAGE_CHECK(known) << "--lora-targets: unknown module '" << t
                             << "' (query_key_value, dense, dense_h_to_4h, dense_4h_to_h)";
    out.insert(t);
  }
  return out;
}

void validate(const AdapterSpec& s) {
  if (s.lora()) {
    GLM3D_USAGE_CHECK(s.lora_r >= 1) << "--lora-r must be >= 1, got " << s.lora_r;
    GLM3D_USAGE_CHECK(s.lora_alpha > 0) << "--lora-alpha must be positive, got " << s.lora_alpha;
    GLM3D_USAGE_CHECK(s.lora_dropout >= 0 && s.lora_dropout < 1)
        << "--lora-dropout must be in [0, 1), got " << s.lora_dropout;
    GLM3D_USAGE_CHECK(!s.lora_targets.empty()) << "--lora-targets names no module";
  }
  if (s.prefix()) {
    GLM3D_USAGE_CHECK(s.pre_seq_len >= 1) << "--pre-seq-len must be >= 1, got " << s.pre_seq_len;
    GLM3D_USAGE_CHECK(s.prefix_dropout >= 0 && s.prefix_dropout < 1)
        << "--prefix-dropout must be in [0, 1), got " << s.prefix_dropout;
  }
}

std::string lora_param_name(int layer, const LinearModule& m, char ab) {
  std::string w = m.weight; // "attention.query_key_value.weight"
  w = w.substr(0, w.size() - std::string(".weight").size());
  return layer_param_name(layer, (w + ".lora_" + std::string(1, ab) + ".weight").c_str());
}

// Adapters of this rank's share, all trainable, after nothing else (their own flat buffer).
ParamTable::ParamTable(const ModelConfig& cfg, const StagePlan& plan, const AdapterSpec& spec)
    : tied_(cfg.tie_embeddings) {
  const int64_t H = cfg.hidden, r = spec.lora_r;
  vpad_ = glm3d::padded_vocab(cfg.vocab, plan.tp);
  if (spec.lora()) {
    for (const auto& [first, count] : plan.chunks)
      for (int l = first; l < first + count; ++l)
        for (int i = 0; i < 4; ++i) {
          const LinearModule& m = linear_modules()[i];
          if (!spec.lora_targets.count(m.name))
            continue;
          // The base weight's full shape [out, in] and split.
          const ParamTable base_shape(cfg, StagePlan{1, 0, {{l, 1}}, false});
          const ParamInfo& w = base_shape.get(layer_param_name(l, m.weight));
          const double a_bound = 1.0 / std::sqrt(double(w.cols));
          if (m.column) { // A whole (gradient summed over tp), B split like the weight's rows
            add(lora_param_name(l, m, 'A'), r, w.cols, Split::replicated, false, Init::uniform, a_bound, l,
                plan);
            params_.back().grad_sum = GradSum::tp;
            const Split bs = std::string(m.name) == "query_key_value"
                                 ? (cfg.packed_qkv() ? Split::qkv_packed : Split::rows)
                                 : (cfg.gated() ? Split::glu_rows : Split::rows);
            add(lora_param_name(l, m, 'B'), w.rows, r, bs, false, Init::zeros, 1, l, plan, &cfg);
          } else { // A split by columns like the weight, B whole
            add(lora_param_name(l, m, 'A'), r, w.cols, Split::cols, false, Init::uniform, a_bound, l, plan);
            add(lora_param_name(l, m, 'B'), H, r, Split::replicated, false, Init::zeros, 1, l, plan);
          }
        }
  }
  if (spec.prefix()) {
    // On every rank of the model (each uses its layers' and heads' share of the output): the
    // gradient is summed over tp and pp, the first stage's tp rank 0 writes it.
    const int64_t P = spec.pre_seq_len, out = cfg.num_layers * prefix_kv_width(cfg);
    auto prefix = [&](const std::string& name, int64_t rows, int64_t cols, Init init, double gain) {
      add("prefix_encoder." + name, rows, cols, Split::replicated, false, init, gain, -1, plan);
      params_.back().grad_sum = GradSum::model_parallel;
      params_.back().first_stage_only = true;
    };
    if (!spec.prefix_projection) {
      prefix("embedding.weight", P, out, Init::normal, 1.0); // nn.Embedding's N(0, 1)
    } else {
      // The MLP's input width: hidden (ChatGLM-6B), the output width (ChatGLM2/3's kv_size).
      const int64_t E = cfg.packed_qkv() ? out : H;
      prefix("embedding.weight", P, E, Init::normal, 1.0);
      prefix("trans.0.weight", H, E, Init::uniform, 1.0 / std::sqrt(double(E))); // nn.Linear's defaults
      prefix("trans.0.bias", H, 1, Init::uniform, 1.0 / std::sqrt(double(E)));
      prefix("trans.2.weight", out, H, Init::uniform, 1.0 / std::sqrt(double(H)));
      prefix("trans.2.bias", out, 1, Init::uniform, 1.0 / std::sqrt(double(H)));
    }
  }
  total_ = (total_ + 15) / 16 * 16;
}

} // namespace glm3d
