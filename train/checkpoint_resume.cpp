#include "train/checkpoint_resume.h"

#include "core/check.h"
#include "train/checkpoint_dir.h"
#include "train/checkpoint_io.h"

#include <filesystem>

namespace glm3d {

ResumeFrom open_resume(const std::string& load) {
  ResumeFrom r;
  if (load.empty())
    return r;
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool names_file = fs::path(load).extension() == ".h5";
  const bool missing = !fs::exists(load, ec);
  if (missing && !names_file) {
    r.warning =
        "warning: --load " + load + " does not exist: starting a fresh run from random initialisation";
    return r;
  }
  if (!missing && fs::is_directory(load, ec) && !fs::exists(fs::path(load) / "latest", ec) &&
      list_checkpoints(load).empty()) {
    r.warning =
        "warning: --load " + load + " holds no checkpoint: starting a fresh run from random initialisation";
    return r;
  }
  r.path = resolve_checkpoint(load);
  r.meta = read_checkpoint_meta(r.path);
  return r;
}

ResumeFrom open_base(const std::string& base) {
  std::error_code ec;
  GLM3D_USAGE_CHECK(std::filesystem::exists(base, ec)) << "--base " << base << " does not exist";
  ResumeFrom r;
  r.path = resolve_checkpoint(base);
  r.meta = read_checkpoint_meta(r.path);
  r.new_run = true;
  GLM3D_USAGE_CHECK(r.meta.kind != "finetune")
      << "--base " << r.path << " holds fine-tuning adapters only: give the model they were trained on"
      << (r.meta.base_checkpoint.empty() ? std::string() : " (" + r.meta.base_checkpoint + ")")
      << ", or merge them into it first (glm3d ckpt merge-lora)";
  return r;
}

void check_resume(const ResumeFrom& r, const ModelConfig& cfg, const std::string& data_tokenizer) {
  if (!r.active())
    return;
  const std::string& want = r.meta.tokenizer_sha256;
  GLM3D_USAGE_CHECK(want.empty() || want == data_tokenizer)
      << "checkpoint " << r.path << ": field tokenizer_sha256 is " << want << ", but the training data "
      << (data_tokenizer.empty() ? std::string("(the synthetic task) have no tokenizer")
                                 : "were made with tokenizer sha256 " + data_tokenizer);
  const std::string diff = config_mismatch(r.meta.cfg, cfg);
  GLM3D_USAGE_CHECK(diff.empty()) << "checkpoint " << r.path << ": model config mismatch: " << diff;
}

} // namespace glm3d
