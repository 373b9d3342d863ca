#include "model/hf_format.h"

#include "core/check.h"
#include "model/chatglm2_convert.h"
#include "model/chatglm_convert.h"
#include "model/param_table.h"

namespace glm3d {

HfFamily parse_hf_family(const std::string& s, const std::string& option) {
  if (s == "chatglm-6b")
    return HfFamily::chatglm;
  if (s == "chatglm2-6b")
    return HfFamily::chatglm2;
  if (s == "chatglm3-6b")
    return HfFamily::chatglm3;
  GLM3D_USAGE_FAIL() << option << " expects " << k_hf_family_choices << ", got '" << s << "'";
}

std::string hf_family_name(HfFamily f) {
  return f == HfFamily::chatglm ? "ChatGLM-6B" : f == HfFamily::chatglm2 ? "ChatGLM2-6B" : "ChatGLM3-6B";
}

std::string hf_name(HfFamily f, const std::string& glm3d_name) {
  return f == HfFamily::chatglm ? chatglm_name(glm3d_name) : chatglm2_name(glm3d_name);
}

std::vector<HfExtra> hf_extras(HfFamily f, const ModelConfig& cfg) {
  if (f == HfFamily::chatglm)
    return {{k_chatglm_lm_head, "word_embeddings.weight", {cfg.vocab, cfg.hidden}, true, {}}};
  std::vector<float> inv_freq = chatglm2_inv_freq(cfg);
  const int64_t n = int64_t(inv_freq.size());
  return {{k_chatglm2_inv_freq, "word_embeddings.weight", {n}, false, std::move(inv_freq)}};
}

bool hf_ignored(HfFamily f, const std::string& name) {
  const std::string tail = ".inv_freq"; // ChatGLM-6B: layers.N.attention.rotary_emb.inv_freq, recomputed
  return f == HfFamily::chatglm && name.size() > tail.size() &&
         name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
}

ModelConfig hf_import_config(HfFamily f, const ConfigJson& config, const HfShapeOf& shape_of,
                             int64_t tokenizer_pieces, std::map<std::string, int64_t>& special) {
  if (f != HfFamily::chatglm)
    return chatglm2_config(config, f == HfFamily::chatglm3, tokenizer_pieces, special);
  ModelConfig c = chatglm_config(config, special);
  // GeGLU (GLM-130B style) has an up-projection twice the activation width.
  const std::vector<int64_t> up = shape_of(chatglm_name(layer_param_name(0, "mlp.dense_h_to_4h.weight")));
  if (!up.empty() && up[0] == 2 * c.ffn_hidden)
    c.ffn = FfnKind::geglu;
  validate(c);
  return c;
}

std::string hf_export_config(HfFamily f, const ModelConfig& cfg,
                             const std::map<std::string, int64_t>& special, const std::string& torch_dtype) {
  if (f == HfFamily::chatglm)
    return chatglm_config_json(cfg, special, torch_dtype);
  return chatglm2_config_json(cfg, f == HfFamily::chatglm3, special, torch_dtype);
}

std::map<std::string, std::string> read_weight_map(const std::string& text, const std::string& file) {
  const ConfigJson index(text, file);
  const nlohmann::json& j = index.json();
  const auto wm = j.find("weight_map");
  GLM3D_USAGE_CHECK(wm != j.end() && wm->is_object())
      << file << ": no object 'weight_map' (tensor name -> shard file)";
  std::map<std::string, std::string> out;
  for (const auto& [name, shard] : wm->items()) {
    GLM3D_USAGE_CHECK(shard.is_string() && !shard.get<std::string>().empty() &&
                      shard.get<std::string>().find('/') == std::string::npos)
        << file << ": weight_map['" << name << "'] must be a file name in the directory, got "
        << shard.dump();
    out[name] = shard.get<std::string>();
  }
  return out;
}

} // namespace glm3d
