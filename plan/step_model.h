#pragma once
// Memory and step time of one layout: memory per pipeline stage from the trainer's own
// accounting (model/memory_model.h through plan/layout.h), step time from op durations priced
// on the device (plan/device.h) and the event simulation of the schedule's op lists
// (plan/pipeline_sim.h), plus the data-parallel phase the trainer runs after the pipeline.
#include "model/config.h"
#include "model/memory_model.h"
#include "plan/device.h"
#include "plan/layout.h"
#include "plan/pipeline_sim.h"

#include <vector>

namespace glm3d {

struct PlanInput {
  ModelConfig cfg; // seq_len already the run's
  int64_t global_batch = 0;
  int gpus_per_node = 8;
  DeviceProfile dev;
  int64_t bucket_bytes = 25ll << 20; // the trainer's --bucket-mb default
};

struct StageMemory {
  int pp_rank = 0;
  int layers = 0;
  bool embedding = false, head = false;
  RankMemory mem;   // the trainer's estimate for a rank of this stage
  double total = 0; // mem.total() + the device's per-process reserve
};

struct Prediction {
  Layout layout;
  int num_microbatches = 0;
  std::vector<StageMemory> stages;
  int peak_stage = 0;
  double peak_bytes = 0;
  bool fits = false;
  // Step time = compute + tp_comm + bubble + p2p + dp_exposed + optimizer: the busiest rank's
  // compute and tensor-parallel time, the idle the schedule leaves it with free transfers, the
  // further wait the pipeline transfers add, then what the last rank to finish does after the
  // pipeline (gradient reduction not hidden behind backward, AdamW).
  double step_s = 0, compute_s = 0, tp_comm_s = 0, bubble_s = 0, p2p_s = 0, dp_exposed_s = 0, optimizer_s = 0;
  double bubble_fraction = 0; // the schedule's idle share of the pipeline phase on the busiest rank
  double tokens_per_s = 0, model_tflops_per_gpu = 0, hw_tflops_per_gpu = 0, mfu = 0, hfu = 0;
  PipelineTrace trace;
};

// Memory of every pipeline stage (ranks of a stage differ only in their tp/dp shard).
// `cache` (may be null) memoises the schedules' in-flight counts across layouts.
std::vector<StageMemory> plan_memory(const PlanInput& in, const Layout& l, InFlightCache* cache = nullptr);
// Memory, then (when `with_time`) the simulated step. The layout must be valid (layout_problem "").
Prediction predict(const PlanInput& in, const Layout& l, bool with_time = true,
                   InFlightCache* cache = nullptr);
// The busiest rank's compute and tensor-parallel time: a lower bound of the step time.
double step_lower_bound(const PlanInput& in, const Layout& l);

} // namespace glm3d
