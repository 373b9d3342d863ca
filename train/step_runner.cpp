#include "train/step_runner.h"

#include "pipeline/executor.h"
#include "train/model_stage.h"

#include "core/clock.h"

namespace glm3d {

struct StepRunner::Impl {
  GlmModel<float>& model;
  ProcessGroups& pg;
  ScheduleKind kind;
  int num_mb;
  ModelStage stage{model};
  PipelineExecutor executor{*pg.pp, pg.dims.virtual_stages};
  std::vector<PipeOp> ops = pg.dims.pp > 1 ? build_schedule(kind, pg.dims.pp, pg.pp_rank(), num_mb,
                                                            pg.dims.virtual_stages)
                                           : std::vector<PipeOp>{};
};

StepRunner::StepRunner(GlmModel<float>& model, ProcessGroups& pg, ScheduleKind kind, int num_microbatches)
    : impl_(new Impl{model, pg, kind, num_microbatches}) {}

StepRunner::~StepRunner() = default;

StepTiming StepRunner::run() {
  Impl& s = *impl_;
  StepTiming t;
  if (s.pg.dims.pp == 1) {
    // One stage: forward then backward per micro-batch (1F1B with no peers), no bubble.
    const auto t0 = Clock::now();
    for (int m = 0; m < s.num_mb; ++m) {
      s.model.forward(0, m, nullptr, nullptr);
      s.model.backward(0, m, nullptr, nullptr);
    }
    t.compute_s = seconds_since(t0);
    return t;
  }
  const PipelineTimes p = s.executor.run(s.ops, s.stage);
  t.compute_s = p.compute_s;
  t.bubble_s = p.wait_s; // blocked on pipeline neighbours: bubble plus p2p transfer time
  return t;
}

} // namespace glm3d
