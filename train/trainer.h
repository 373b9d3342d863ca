#pragma once
// The training loop of one rank: builds the groups and this rank's model share,
// then per step reads its data-parallel slice of the global batch, runs the
// pipeline schedule over its micro-batches, reduces gradients (tied embedding over
// the embedding group, then data parallel in buckets overlapped with backward, or
// reduce-scatter under ZeRO-1), clips by the true global norm, and steps AdamW.
#include "train/metrics.h"
#include "train/train_options.h"

#include <functional>
#include <mpi.h>
#include <vector>

namespace glm3d {

struct TrainResult {
  std::vector<double> losses; // per step, identical on every rank
  int64_t skipped_steps = 0;
};

class StopSignals;

// Collective over `world`. Throws UsageError on bad options or layouts. stop_signals (may be
// null): where stop requests come from (train/checkpoint_signal.h); checked once before the
// first step and after every step.
TrainResult train(const TrainOptions& opt, MPI_Comm world, const StopSignals* stop_signals = nullptr);

} // namespace glm3d
