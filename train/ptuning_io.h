#pragma once
// P-tuning v2 runs and ChatGLM's prefix checkpoints (model/ptuning_format.h, docs/adapters.md):
// every save of a ptuning run also writes <save dir>/ptuning/ (model.safetensors with the
// transformer.prefix_encoder.* tensors, config.json), and --ptuning DIR starts a new run's
// encoder from such a directory. The encoder is whole on every rank, so each reads it itself.
#include "train/train_job.h"

namespace glm3d {

// --ptuning DIR: the encoder's initial values (a new run of --method ptuning only). UsageError
// for a file of another shape (read_ptuning_checkpoint), another method or a resumed run.
void load_ptuning_init(TrainJob& j);

// Rank 0 writes <save dir>/ptuning/ from its (published, whole) encoder.
void save_ptuning_export(const TrainJob& j);

} // namespace glm3d
