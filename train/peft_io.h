#pragma once
// glm3d's LoRA adapters and Hugging Face PEFT's adapter directories (model/peft_format.h):
// export of a fine-tuning checkpoint (kind finetune) as PEFT files, an adapter from either kind
// of source in glm3d's names, and the merge W' = W + scaling B A on whole tensors or on a
// rank's shard of them. docs/adapters.md.
//
//   LoraAdapter a = read_lora_adapter("run/peft", base_cfg);  // or a glm3d finetune checkpoint
//   for (auto& [weight, ab] : a.pairs) merge_lora_rects(W, {{0, 0, rows, cols}}, ab, a.scaling);
#include "model/adapters.h"
#include "model/peft_format.h"
#include "train/checkpoint_format.h"
#include "train/checkpoint_io.h"

#include <map>
#include <string>
#include <vector>

namespace glm3d {

// The PEFT module path of linear m of `layer`: ChatGLM-6B's names for a GLM, ChatGLM2's
// (transformer.encoder.layers.N.self_attention...) for its architecture (packed key/value groups).
std::string peft_module_path(const ModelConfig& cfg, int layer, const LinearModule& m);
// Every linear of every layer with its full shape, as read_peft_adapter matches targets against.
std::vector<LoraModule> peft_modules(const ModelConfig& cfg);

// One adapted linear: A [r, in], B [out, r] (whole tensors).
struct LoraPair {
  HostTensor A, B;
};

struct LoraAdapter {
  std::string source;    // the directory or checkpoint it came from
  LoraSettings settings; // r, alpha, dropout, PEFT's target rule
  double scaling = 1;    // alpha / r (alpha / sqrt(r) with use_rslora)
  std::map<std::string, LoraPair>
      pairs; // by the base weight's glm3d name ("layers.0.attention.query_key_value.weight")
  std::string base_checkpoint; // a glm3d fine-tuning checkpoint's base ("" for a PEFT directory)
};

// A directory holding adapter_config.json.
bool is_peft_dir(const std::string& path);

// A LoRA adapter for a model of config `cfg`: a PEFT directory (read_peft_adapter's checks) or a
// glm3d fine-tuning checkpoint (file, or directory with `latest`) of method lora. UsageError
// (one line, naming the source) for prefix adapters, another architecture, misshapen tensors.
LoraAdapter read_lora_adapter(const std::string& path, const ModelConfig& cfg);

// The AdapterSpec a new fine-tuning run takes from a PEFT adapter: r, alpha, dropout and the
// targets, which must adapt each named linear in every layer with alpha / r scaling
// (UsageError otherwise: layers_to_transform, use_rslora, a regex selecting some layers only).
AdapterSpec spec_of_peft(const LoraAdapter& a, const ModelConfig& cfg);

// The adapters of `a` by their glm3d checkpoint names ("layers.0.attention.query_key_value.lora_A.weight").
TensorMap glm3d_lora_tensors(const LoraAdapter& a);

// Writes DIR/adapter_config.json + adapter_model.safetensors from glm3d fine-tuning checkpoint
// `ckpt` (f32), through DIR.tmp renamed over DIR. UsageError unless it holds LoRA adapters.
void export_peft(const std::string& ckpt, const std::string& dir);

// W += scaling B A over the rectangles `rects` of the full weight that `local` holds, in their
// row-major order (shard_rects of a tp shard, or one rectangle for a whole tensor).
void merge_lora_rects(float* local, const std::vector<Rect>& rects, const LoraPair& ab, double scaling);

// Fills every piece (params group) from whole tensors by name; pieces of other names untouched.
void fill_pieces(std::vector<TensorPiece>& pieces, const TensorMap& whole);

} // namespace glm3d
