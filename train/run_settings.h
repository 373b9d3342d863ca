#pragma once
// The settings a training run actually uses: the options, the model preset's defaults and, on
// resume, the checkpoint's own settings. A resumed run continues with what the checkpoint was
// trained with (lr schedule, batch sizes, AdamW, clip, seed); a value given explicitly (command
// line or --config) that differs wins and is reported as one `override:` line, so nothing is
// silently reset and nothing silently ignored.
#include "train/checkpoint_format.h"
#include "train/train_options.h"

#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

struct RunSettings {
  double lr = 0, min_lr = 0;
  int64_t warmup_steps = 0, decay_steps = 0;
  int64_t global_batch = 0, micro_batch = 0;
  double weight_decay = 0, beta1 = 0, beta2 = 0, eps = 0, clip_grad = 0;
  uint64_t seed = 0;
};

struct ResolvedSettings {
  RunSettings s;
  std::vector<std::string> overrides; // "override: --lr 0.002 (checkpoint: 0.001)"
  std::vector<std::string> notes;     // e.g. running past the checkpoint's decay length
};

// resume: the checkpoint's metadata when continuing a training run, else nullptr.
// preset_lr: the model's recommended lr (used when --lr is 0 on a fresh run).
// Throws UsageError when the result is inconsistent (min lr above lr).
ResolvedSettings resolve_settings(const TrainOptions& opt, const CheckpointMeta* resume, double preset_lr);

} // namespace glm3d
