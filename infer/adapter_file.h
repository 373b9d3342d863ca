#pragma once
// What `glm3d generate --adapter DIR | --ptuning FILE` names, recognised before a model loads:
//   --adapter DIR    a PEFT adapter directory: adapter_config.json with peft_type LORA
//                    (adapter_model.safetensors beside it), or PREFIX_TUNING / P_TUNING;
//                    or a glm3d fine-tuning checkpoint (kind finetune: LoRA or prefix)
//   --ptuning FILE   ChatGLM-6B's P-tuning v2 prefix encoder as safetensors: a tensor
//                    [transformer.]prefix_encoder.embedding.weight
// Anything else is a UsageError naming the path and what was found.
#include <string>

namespace glm3d {

struct AdapterFile {
  enum class Kind { none, lora, prefix };
  Kind kind = Kind::none;
  std::string path;
  std::string what; // one line: "PEFT LoRA adapter (r=8, alpha=32)", ...
};

// At most one of the two may be given ("" = not given).
AdapterFile identify_adapter(const std::string& adapter_dir, const std::string& ptuning_file);

} // namespace glm3d
