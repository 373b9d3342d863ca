#pragma once
// LoRA adapters in the format of Hugging Face PEFT (huggingface/peft src/peft/utils/
// save_and_load.py, peft_model.py save_pretrained; tuners/lora/config.py), so adapters move
// between glm3d and PEFT unchanged:
//
//   DIR/adapter_config.json        LoraConfig as PEFT writes it (json.dumps(indent=2, sort_keys=True))
//   DIR/adapter_model.safetensors  metadata {"format": "pt"}; per adapted linear layer
//     base_model.model.<module path>.lora_A.weight  [r, in_features]
//     base_model.model.<module path>.lora_B.weight  [out_features, r]
//   (PEFT removes the adapter name, ".default", from the keys.) The update of a layer is
//   W x + scaling * B (A x), scaling = lora_alpha / r (lora_alpha / sqrt(r) with use_rslora).
//
// Module paths of ChatGLM-6B: transformer.layers.<i>.attention.query_key_value (dense,
// mlp.dense_h_to_4h, mlp.dense_4h_to_h); ChatGLM2/3: transformer.encoder.layers.<i>.
// self_attention.query_key_value (dense, mlp.dense_h_to_4h, mlp.dense_4h_to_h).
//
//   std::vector<LoraModule> all = ...;   // every linear the model has, with its shapes
//   LoraSettings s;                      // r 8, alpha 8, target query_key_value (PEFT's defaults)
//   for (const LoraModule& m : lora_targets(all, s)) { t[lora_key(m.path, 'A')] = ...; t[lora_key(m.path,
//   'B')] = ...; } write_peft_adapter("adapter", s, all, t); PeftAdapter a = read_peft_adapter("adapter",
//   all);   // validated against the model's modules
#include "model/host_tensors.h"

#include <string>
#include <vector>

namespace glm3d {

struct LoraSettings {
  int64_t r = 8;
  double alpha = 8, dropout = 0;
  std::vector<std::string> target_modules{"query_key_value"}; // names (PEFT: a module matches a name
  bool target_regex = false; // when its path equals it or ends in "." + it); true: one regex, full match
  std::vector<int64_t> layers_to_transform; // empty: every layer
  bool use_rslora = false;
  std::string base_model_name_or_path;
  double scaling() const; // alpha / r, or alpha / sqrt(r) with use_rslora
};

// A linear layer LoRA may adapt: its module path (without "base_model.model.") and shape.
struct LoraModule {
  std::string path;
  int64_t in_features = 0, out_features = 0;
  bool operator==(const LoraModule&) const = default;
};

enum class ChatGlmFamily { chatglm6b, chatglm2 };

// The module path of a linear layer ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h").
std::string chatglm_module_path(ChatGlmFamily family, int64_t layer, const std::string& linear);

// "base_model.model.<path>.lora_A.weight" (which 'A') or "...lora_B.weight" ('B').
std::string lora_key(const std::string& module_path, char which);

// The modules of `all` that the settings adapt (target_modules, then layers_to_transform: the
// number after ".layers." in the path).
std::vector<LoraModule> lora_targets(const std::vector<LoraModule>& all, const LoraSettings& s);

// The tensors of an adapter: lora_A [r, in] and lora_B [out, r] of every target module.
ShapeMap lora_shapes(const std::vector<LoraModule>& targets, int64_t r);

// Writes DIR/adapter_config.json and DIR/adapter_model.safetensors (DIR created). tensors must be
// exactly lora_shapes(lora_targets(all, s), s.r) (glm3d::Error otherwise).
void write_peft_adapter(const std::string& dir, const LoraSettings& s, const std::vector<LoraModule>& all,
                        const TensorMap& tensors, StDtype dtype = StDtype::f32);

struct PeftAdapter {
  LoraSettings settings;
  std::vector<LoraModule> targets; // the modules of the model it adapts
  TensorMap tensors;               // by lora_key, as f32
};

// Reads and validates an adapter against the model's linear layers `all`: peft_type LORA, a
// plain LoRA (no DoRA, bias, rank/alpha patterns, fan_in_fan_out or modules_to_save), a target
// set that selects at least one module, and exactly the lora_A/lora_B tensors of those modules
// with their shapes. UsageError naming the file (and key) otherwise.
PeftAdapter read_peft_adapter(const std::string& dir, const std::vector<LoraModule>& all);

} // namespace glm3d
