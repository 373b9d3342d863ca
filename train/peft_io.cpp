#include "train/peft_io.h"

#include "core/check.h"
#include "model/hf_format.h"
#include "model/lora.h"
#include "train/checkpoint_dir.h"
#include "train/checkpoint_stream.h"

#include <algorithm>
#include <filesystem>

namespace glm3d {

namespace fs = std::filesystem;

namespace {

// "layers.3.attention.query_key_value.weight" of linear m.
std::string weight_name(int layer, const LinearModule& m) {
  return layer_param_name(layer, m.weight);
}

std::map<std::string, CkptTensor> tensors_by_name(const ModelConfig& cfg) {
  std::map<std::string, CkptTensor> out;
  for (const CkptTensor& t : checkpoint_tensors(cfg))
    out[t.name] = t;
  return out;
}

// The A and B of every target of a PEFT adapter, by the base weight's glm3d name.
void pairs_from_peft(LoraAdapter& a, PeftAdapter&& p, const ModelConfig& cfg) {
  for (int l = 0; l < int(cfg.num_layers); ++l)
    for (int i = 0; i < 4; ++i) {
      const std::string path = peft_module_path(cfg, l, linear_modules()[i]);
      auto ia = p.tensors.find(lora_key(path, 'A'));
      if (ia == p.tensors.end())
        continue;
      LoraPair& ab = a.pairs[weight_name(l, linear_modules()[i])];
      ab.A = std::move(ia->second);
      ab.B = std::move(p.tensors.at(lora_key(path, 'B')));
    }
}

// A glm3d fine-tuning checkpoint's adapters, checked against the base's shapes.
LoraAdapter from_checkpoint(const std::string& path, const ModelConfig& cfg) {
  CheckpointStreamReader r(resolve_checkpoint(path));
  const CheckpointMeta& m = r.meta();
  GLM3D_USAGE_CHECK(m.kind == "finetune" && m.adapters.method == FinetuneMethod::lora)
      << "adapter " << r.path() << " is a " << m.kind << " checkpoint"
      << (m.kind == "finetune" ? " of method " + to_string(m.adapters.method) : std::string())
      << ", not LoRA adapters (a PEFT directory or a glm3d finetune --method lora checkpoint)";
  LoraAdapter a;
  a.source = r.path();
  a.base_checkpoint = m.base_checkpoint;
  a.settings.r = m.adapters.lora_r;
  a.settings.alpha = m.adapters.lora_alpha;
  a.settings.dropout = m.adapters.lora_dropout;
  a.settings.target_modules.assign(m.adapters.lora_targets.begin(), m.adapters.lora_targets.end());
  a.settings.base_model_name_or_path = m.base_checkpoint;
  a.scaling = m.adapters.lora_scaling();
  const std::map<std::string, CkptTensor> base = tensors_by_name(cfg);
  for (int l = 0; l < int(m.cfg.num_layers); ++l)
    for (int i = 0; i < 4; ++i) {
      const LinearModule& mod = linear_modules()[i];
      if (!m.adapters.lora_targets.count(mod.name))
        continue;
      const std::string w = weight_name(l, mod);
      const auto it = base.find(w);
      GLM3D_USAGE_CHECK(it != base.end())
          << "adapter " << r.path() << " adapts " << w << ", which the base model (" << cfg.num_layers
          << " layers) does not have";
      LoraPair& ab = a.pairs[w];
      for (char which : {'A', 'B'}) {
        const std::string name = lora_param_name(l, mod, which);
        const CkptTensor t = *std::find_if(r.tensors().begin(), r.tensors().end(),
                                           [&](const CkptTensor& c) { return c.name == name; });
        const std::vector<int64_t> want = which == 'A' ? std::vector<int64_t>{a.settings.r, it->second.cols}
                                                       : std::vector<int64_t>{it->second.rows, a.settings.r};
        GLM3D_USAGE_CHECK(t.shape() == want)
            << "adapter " << r.path() << ": " << name << " is " << shape_str(t.shape()) << ", the base's "
            << w << " " << shape_str(it->second.shape()) << " needs " << shape_str(want);
        HostTensor& h = which == 'A' ? ab.A : ab.B;
        h.shape = want;
        h.data.resize(size_t(t.numel()));
        r.read(t, h.data.data());
      }
    }
  return a;
}

} // namespace

std::string peft_module_path(const ModelConfig& cfg, int layer, const LinearModule& m) {
  const std::string w =
      hf_name(cfg.packed_qkv() ? HfFamily::chatglm2 : HfFamily::chatglm, weight_name(layer, m));
  return w.substr(0, w.size() - std::string(".weight").size());
}

std::vector<LoraModule> peft_modules(const ModelConfig& cfg) {
  const std::map<std::string, CkptTensor> base = tensors_by_name(cfg);
  std::vector<LoraModule> all;
  for (int l = 0; l < int(cfg.num_layers); ++l)
    for (int i = 0; i < 4; ++i) {
      const CkptTensor& t = base.at(weight_name(l, linear_modules()[i]));
      all.push_back({peft_module_path(cfg, l, linear_modules()[i]), t.cols, t.rows});
    }
  return all;
}

bool is_peft_dir(const std::string& path) {
  return fs::is_directory(path) && fs::exists(fs::path(path) / "adapter_config.json");
}

LoraAdapter read_lora_adapter(const std::string& path, const ModelConfig& cfg) {
  if (!is_peft_dir(path))
    return from_checkpoint(path, cfg);
  PeftAdapter p = read_peft_adapter(path, peft_modules(cfg));
  LoraAdapter a;
  a.source = path;
  a.settings = p.settings;
  a.scaling = p.settings.scaling();
  pairs_from_peft(a, std::move(p), cfg);
  return a;
}

AdapterSpec spec_of_peft(const LoraAdapter& a, const ModelConfig& cfg) {
  const std::string where = "--adapter " + a.source + ": ";
  GLM3D_USAGE_CHECK(!a.settings.use_rslora)
      << where << "use_rslora (scaling alpha / sqrt(r)) is not trained by glm3d (alpha / r); merge it with "
      << "glm3d ckpt merge-lora instead";
  AdapterSpec s;
  s.method = FinetuneMethod::lora;
  s.lora_r = a.settings.r;
  s.lora_alpha = a.settings.alpha;
  s.lora_dropout = a.settings.dropout;
  s.lora_targets.clear();
  for (int i = 0; i < 4; ++i) {
    const LinearModule& m = linear_modules()[i];
    int64_t n = 0;
    for (int l = 0; l < int(cfg.num_layers); ++l)
      n += a.pairs.count(weight_name(l, m));
    GLM3D_USAGE_CHECK(n == 0 || n == cfg.num_layers)
        << where << "adapts " << m.name << " in " << n << " of " << cfg.num_layers
        << " layers; glm3d trains a module in every layer (merge it with glm3d ckpt merge-lora instead)";
    if (n)
      s.lora_targets.insert(m.name);
  }
  return s;
}

TensorMap glm3d_lora_tensors(const LoraAdapter& a) {
  TensorMap out;
  for (const auto& [w, ab] : a.pairs) {
    const std::string stem = w.substr(0, w.size() - std::string(".weight").size());
    out[stem + ".lora_A.weight"] = ab.A;
    out[stem + ".lora_B.weight"] = ab.B;
  }
  return out;
}

void export_peft(const std::string& ckpt, const std::string& dir) {
  const std::string path = resolve_checkpoint(ckpt);
  const ModelConfig cfg = read_checkpoint_meta(path).cfg;
  const LoraAdapter a = from_checkpoint(path, cfg);
  TensorMap t;
  for (const auto& [w, ab] : a.pairs) {
    const int layer = std::stoi(w.substr(std::string("layers.").size()));
    for (int i = 0; i < 4; ++i)
      if (weight_name(layer, linear_modules()[i]) == w) {
        const std::string module = peft_module_path(cfg, layer, linear_modules()[i]);
        t[lora_key(module, 'A')] = ab.A;
        t[lora_key(module, 'B')] = ab.B;
      }
  }
  const std::string tmp = dir + ".tmp";
  fs::remove_all(tmp);
  write_peft_adapter(tmp, a.settings, peft_modules(cfg), t);
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir, ec);
  GLM3D_USAGE_CHECK(!ec) << "cannot move " << tmp << " to " << dir << ": " << ec.message();
}

void merge_lora_rects(float* local, const std::vector<Rect>& rects, const LoraPair& ab, double scaling) {
  const int64_t r = ab.A.shape[0], in = ab.A.shape[1];
  for (const Rect& q : rects) {
    // [nr, r] rows of B and [r, nc] columns of A, then W_rect [nr, nc] += s B_rows A_cols.
    std::vector<float> A(size_t(r * q.nc));
    for (int64_t k = 0; k < r; ++k)
      std::copy_n(ab.A.data.data() + k * in + q.c0, q.nc, A.data() + k * q.nc);
    merge_lora(local, A.data(), ab.B.data.data() + q.r0 * r, q.nr, q.nc, r, scaling);
    local += q.numel();
  }
}

void fill_pieces(std::vector<TensorPiece>& pieces, const TensorMap& whole) {
  for (TensorPiece& p : pieces) {
    const auto it = whole.find(p.name);
    if (p.group != "params" || it == whole.end())
      continue;
    const int64_t cols = it->second.shape.size() > 1 ? it->second.shape[1] : 1;
    float* dst = p.data;
    for (const Rect& q : p.rects)
      for (int64_t i = 0; i < q.nr; ++i, dst += q.nc)
        std::copy_n(it->second.data.data() + (q.r0 + i) * cols + q.c0, q.nc, dst);
  }
}

} // namespace glm3d
