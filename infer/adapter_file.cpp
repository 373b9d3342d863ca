#include "infer/adapter_file.h"

#include "core/check.h"
#include "model/safetensors.h"
#include "train/checkpoint_dir.h"
#include "train/checkpoint_h5.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace glm3d {

namespace {

namespace fs = std::filesystem;

AdapterFile peft_adapter(const std::string& dir) {
  if (!fs::exists(fs::path(dir) / "adapter_config.json")) // a glm3d fine-tuning checkpoint?
    if (fs::is_regular_file(dir) || fs::exists(fs::path(dir) / "latest")) {
      const CheckpointMeta m = read_checkpoint_meta(resolve_checkpoint(dir));
      GLM3D_USAGE_CHECK(m.kind == "finetune")
          << "--adapter " << dir << " is a " << m.kind << " checkpoint, not fine-tuning adapters";
      return {m.adapters.lora() ? AdapterFile::Kind::lora : AdapterFile::Kind::prefix, dir,
              "glm3d fine-tuning checkpoint (" + describe(m.adapters) + ")"};
    }
  GLM3D_USAGE_CHECK(fs::is_directory(dir))
      << "--adapter " << dir << " is not a directory (a PEFT adapter directory)";
  const fs::path cfg = fs::path(dir) / "adapter_config.json";
  std::ifstream in(cfg);
  GLM3D_USAGE_CHECK(in) << "--adapter " << dir << ": no adapter_config.json: not a PEFT adapter directory";
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  GLM3D_USAGE_CHECK(j.is_object()) << cfg.string() << ": not a JSON object";
  // Fields of any JSON type: j.value() would throw nlohmann's type_error for a non-string.
  const auto pt = j.find("peft_type");
  const std::string type = pt != j.end() && pt->is_string() ? pt->get<std::string>() : std::string();
  AdapterFile s;
  s.path = dir;
  if (type == "LORA") {
    s.kind = AdapterFile::Kind::lora;
    s.what = "PEFT LoRA adapter (r=" + (j.contains("r") ? j["r"].dump() : std::string("?")) + ")";
  } else if (type == "PREFIX_TUNING" || type == "P_TUNING") {
    s.kind = AdapterFile::Kind::prefix;
    s.what = "PEFT " + type + " adapter";
  } else {
    GLM3D_USAGE_FAIL() << "--adapter " << dir
                       << ": unknown adapter format: adapter_config.json has peft_type '" << type
                       << "' (glm3d reads LORA, PREFIX_TUNING and P_TUNING)";
  }
  return s;
}

AdapterFile ptuning_file(const std::string& file) {
  GLM3D_USAGE_CHECK(fs::is_regular_file(file)) << "--ptuning " << file << " does not exist";
  std::string why;
  try {
    SafetensorsReader r(file);
    for (const char* name :
         {"transformer.prefix_encoder.embedding.weight", "prefix_encoder.embedding.weight"})
      if (r.tensors().count(name)) {
        const auto& shape = r.tensors().at(name).shape;
        return {AdapterFile::Kind::prefix, file,
                "P-tuning v2 prefix encoder (" + std::to_string(shape.empty() ? 0 : shape[0]) +
                    " prefix tokens)"};
      }
    why = "a safetensors file without prefix_encoder.embedding.weight";
  } catch (const UsageError& e) {
    why = std::string("not a safetensors file (") + e.what() + ")";
  }
  GLM3D_USAGE_FAIL() << "--ptuning " << file << ": unknown adapter format: " << why;
}

} // namespace

AdapterFile identify_adapter(const std::string& adapter_dir, const std::string& ptuning) {
  GLM3D_USAGE_CHECK(adapter_dir.empty() || ptuning.empty()) << "give --adapter or --ptuning, not both";
  if (!adapter_dir.empty())
    return peft_adapter(adapter_dir);
  if (!ptuning.empty())
    return ptuning_file(ptuning);
  return {};
}

} // namespace glm3d
