#pragma once
// Resuming a run from `--load DIR|FILE`: which checkpoint, and whether it fits the job.
#include "train/checkpoint_format.h"

#include <string>

namespace glm3d {

struct ResumeFrom {
  std::string path;    // "" when starting fresh
  std::string warning; // why a --load was not used (missing or empty directory), for rank 0 to print
  CheckpointMeta meta;
  bool new_run = false; // the weights only, whatever the kind (a fine-tuning run's --base)
  bool active() const { return !path.empty(); }
  // A training checkpoint continues its run (step, optimizer, data position, seed); imported or
  // exported weights start a new run (step 0) from those weights.
  bool continues_run() const {
    return active() && !new_run && (meta.kind == "train" || meta.kind == "finetune");
  }
};

// Every rank: resolves `load` ("" -> inactive) and reads the checkpoint's metadata. A directory
// that does not exist or holds no checkpoint at all starts a fresh run with a warning, as
// Megatron does (the first submission of a job script that always passes --load); a missing
// file path (*.h5) and a directory with step files but no `latest` are UsageErrors.
ResumeFrom open_resume(const std::string& load);

// Every rank: the pretrained model a fine-tuning run starts from (--base FILE|DIR): any
// checkpoint holding a whole model (train, import, weights), read as weights only. UsageError
// when it is missing or holds adapters only (kind finetune).
ResumeFrom open_base(const std::string& base);

// UsageError naming the checkpoint and the field when the model's architecture differs from the
// checkpoint's, or the data were made with another tokenizer (data_tokenizer: the source's
// tokenizer sha256, "" for the synthetic task). A checkpoint without a tokenizer hash (imported
// weights, synthetic data) accepts any data.
void check_resume(const ResumeFrom& r, const ModelConfig& cfg, const std::string& data_tokenizer);

} // namespace glm3d
