#pragma once
// One optimizer step of a training job: this dp rank's share of the global batch, forward and
// backward over the pipeline schedule, the gradient reductions (tied embedding, then data
// parallel in buckets or ZeRO-1's reduce-scatter), the global gradient norm, clipping and the
// AdamW update (ZeRO-1: then the all-gather of the updated parameters).
#include "train/metrics.h"
#include "train/train_job.h"

namespace glm3d {

// Runs step `step` (1-based) and returns its metrics (identical loss and norm on every rank).
// A step with a non-finite loss or norm makes no update (metrics.skipped); too many in a row
// throw UsageError. Advances nothing: the caller moves job.next_sample on.
StepMetrics run_train_step(TrainJob& job, int64_t step, int64_t& consecutive_skips);

// The metrics of a step passed over with --skip-iters (its samples consumed, no update).
StepMetrics skipped_step_metrics(const TrainJob& job, int64_t step);

} // namespace glm3d
