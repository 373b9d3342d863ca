#pragma once
// StepRunner: one optimizer step's forward and backward over this rank's
// micro-batches: a plain loop when pp == 1, the pipeline schedule otherwise
// (pipeline/executor.h moves activations between stages).
#include "model/glm_model.h"
#include "parallel/process_groups.h"
#include "pipeline/schedule.h"

#include <memory>

namespace glm3d {

// compute_s: inside the model's forward/backward (tensor-parallel all-reduces included);
// bubble_s: blocked on pipeline neighbours (the bubble plus p2p transfer time);
// comm_wait_s (filled by the trainer): blocked on gradient reductions after the pipeline.
struct StepTiming {
  double compute_s = 0, comm_wait_s = 0, bubble_s = 0;
};

class StepRunner {
public:
  StepRunner(GlmModel<float>& model, ProcessGroups& pg, ScheduleKind kind, int num_microbatches);
  ~StepRunner();
  StepTiming run();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace glm3d
