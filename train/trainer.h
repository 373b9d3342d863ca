#pragma once
// The training loop of one rank. Set-up (settings, layout, pre-flight checks, model, resume) is
// train/train_job.h; one step (batch, pipeline schedule, gradient reductions, clip, AdamW) is
// train/train_step.h; this loop adds metrics, progress, replica checks, stop signals and saves.
#include "train/metrics.h"
#include "train/train_options.h"

#include <mpi.h>
#include <utility>
#include <vector>

namespace glm3d {

struct TrainResult {
  std::vector<double> losses;                          // per step, identical on every rank
  std::vector<std::pair<int64_t, double>> eval_losses; // (step, held-out loss) of each evaluation
  int64_t skipped_steps = 0;
  bool nothing_to_do = false; // resumed at or past --steps
};

class StopSignals;

// Collective over `world`. Throws UsageError on bad options or layouts. stop_signals (may be
// null): where stop requests come from (train/checkpoint_signal.h); checked once before the
// first step and after every step.
TrainResult train(const TrainOptions& opt, MPI_Comm world, const StopSignals* stop_signals = nullptr);

// glm3d ckpt reshard: loads opt.load into the layout of opt (tp, pp, dp, zero, virtual stages,
// --pp-layers) exactly as a resumed run would and saves it at once to opt.save_dir: the same
// step, settings, parameters and Adam moments, written by the new layout. Collective.
std::string reshard_checkpoint(TrainOptions opt, MPI_Comm world);

} // namespace glm3d
