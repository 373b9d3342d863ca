#pragma once
// LoRA adapters that come from elsewhere into a run (docs/adapters.md):
//   glm3d finetune --method lora --adapter DIR|FTCKPT   a new run whose adapters start from a
//                 PEFT directory's (or a glm3d fine-tuning checkpoint's) values, with its r,
//                 alpha, dropout and targets (given --lora-alpha / --lora-dropout win)
//   glm3d eval --load FTCKPT                            base + adapters, no dropout
// and PEFT's files beside each save of a LoRA run (<save dir>/peft, the latest save's).
#include "model/glm_model.h"
#include "parallel/process_groups.h"
#include "train/checkpoint_resume.h"
#include "train/train_job.h"

#include <mpi.h>

namespace glm3d {

// Every rank, once the model config is known: the run's AdapterSpec from --adapter. UsageError
// for a resumed run, another method, an --lora-r / --lora-targets that contradicts the adapter.
void resolve_adapter_init(TrainJob& j);

// Collective: the adapters' values from --adapter into the optimizer's master, published.
void load_adapter_init(TrainJob& j);

// Collective (rank 0 writes): <save dir>/peft from the checkpoint just saved at `path`.
void write_peft_of_save(const TrainJob& j, const std::string& path);

// Collective: a fine-tuning checkpoint `ck` (LoRA) loaded for evaluation: its base's weights
// into the model, the adapters attached and read, training off (no dropout). UsageError for
// other methods.
void load_finetune_for_eval(GlmModel<float>& model, const ResumeFrom& ck, const ProcessGroups& pg,
                            MPI_Comm world);

} // namespace glm3d
