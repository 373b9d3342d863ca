#pragma once
// The Hugging Face checkpoints glm3d imports and exports: ChatGLM-6B (model/chatglm_convert.h)
// and ChatGLM2-6B / ChatGLM3-6B (model/chatglm2_convert.h). For each, every glm3d tensor's name
// there, the tensors glm3d does not keep (a tied LM head's copy, rotary buffers) and the
// config.json mapping. The tensor-by-tensor streaming itself is launch/ckpt_hf_*.cpp.
#include "model/config.h"
#include "model/config_json.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace glm3d {

enum class HfFamily { chatglm, chatglm2, chatglm3 };

// "chatglm-6b" | "chatglm2-6b" | "chatglm3-6b" (UsageError naming `option` otherwise).
HfFamily parse_hf_family(const std::string& s, const std::string& option);
std::string hf_family_name(HfFamily f); // "ChatGLM2-6B"
inline constexpr const char* k_hf_family_choices = "chatglm-6b, chatglm2-6b or chatglm3-6b";

// A tensor of the Hugging Face checkpoint that glm3d does not store.
struct HfExtra {
  std::string name;  // its name there
  std::string after; // the glm3d tensor it follows in an export and is checked with on import
  std::vector<int64_t> shape;
  bool copy = false;         // a copy of `after` (ChatGLM-6B's tied lm_head.weight)
  std::vector<float> values; // else its values (ChatGLM2's rotary inv_freq)
};

std::string hf_name(HfFamily f, const std::string& glm3d_name);
std::vector<HfExtra> hf_extras(HfFamily f, const ModelConfig& cfg);
// Tensors an import skips unchecked (ChatGLM-6B's per-layer rotary inv_freq buffers).
bool hf_ignored(HfFamily f, const std::string& name);

// A tensor's shape in the directory being imported ({} when absent).
using HfShapeOf = std::function<std::vector<int64_t>(const std::string& name)>;

// The model a config.json describes (ChatGLM-6B's GeGLU is told by the up-projection's shape);
// special token ids into `special`. tokenizer_pieces: ChatGLM2/3's tokenizer.model piece count
// (its special tokens follow it). UsageError naming the field for what glm3d cannot represent.
ModelConfig hf_import_config(HfFamily f, const ConfigJson& config, const HfShapeOf& shape_of,
                             int64_t tokenizer_pieces, std::map<std::string, int64_t>& special);

// config.json of cfg in family f. UsageError naming the field when cfg is not such a model.
std::string hf_export_config(HfFamily f, const ModelConfig& cfg,
                             const std::map<std::string, int64_t>& special, const std::string& torch_dtype);

// The weight_map of a model.safetensors.index.json (tensor name -> shard file name).
std::map<std::string, std::string> read_weight_map(const std::string& text, const std::string& file);

} // namespace glm3d
