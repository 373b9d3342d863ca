#pragma once
// Everything one rank builds once for a training run (train/trainer.h runs it): the resolved
// settings, the data source, the process groups, this rank's model share and optimizer, the
// schedule runner, gradient reducer and metrics. make_train_job() does the set-up in order:
// settings (from the options and, on resume, the checkpoint), layout checks, output-path and
// memory pre-flight, allocation, initialisation, then the checkpoint load.
#include "data/sample.h"
#include "model/config.h"
#include "model/exec_policy.h"
#include "model/glm_model.h"
#include "model/memory_model.h"
#include "parallel/op_tracker.h"
#include "parallel/process_groups.h"
#include "pipeline/schedule.h"
#include "train/checkpoint.h"
#include "train/checkpoint_resume.h"
#include "train/distributed_optimizer.h"
#include "train/fault_injection.h"
#include "train/grad_reducer.h"
#include "train/iter_ranges.h"
#include "train/lr_schedule.h"
#include "train/metrics.h"
#include "train/mfu_peak.h"
#include "train/run_settings.h"
#include "train/step_runner.h"
#include "train/train_options.h"
#include "train/watchdog.h"

#include <memory>
#include <mpi.h>
#include <vector>

namespace glm3d {

struct TrainJob {
  TrainOptions opt;
  MPI_Comm world = MPI_COMM_NULL;
  int rank = 0, world_size = 1;
  bool log = false; // rank 0 prints progress

  ResumeFrom resume;
  ResumeFrom base;      // fine-tuning: the pretrained model (--base, or the one a resumed run names)
  AdapterSpec adapters; // fine-tuning method and adapters (method none: pretraining)
  RunSettings settings;
  ExecPolicy exec; // precision, recomputation, attention kernel
  ModelConfig cfg;
  std::unique_ptr<SampleSource> source;
  std::string tokenizer_sha256; // of the data (written into checkpoints)
  ParallelDims dims;
  int num_mb = 1; // micro-batches per step on this dp rank
  ScheduleKind schedule = ScheduleKind::one_f_one_b;
  ProcessGroups pg;
  IterRanges skip_iters;
  FaultPlan faults;
  OpTracker tracker; // what this rank is blocked in, for the watchdog
  std::unique_ptr<Watchdog> watchdog;

  StagePlan plan;
  std::unique_ptr<Communicator> kv_share; // tp ranks holding the same key/value group (tp > groups)
  std::unique_ptr<GlmModel<float>> model;
  ParamStore store;          // what trains: the model's parameters, or (frozen base) its adapters
  int64_t total = 0;         // trained parameters in the flat buffer (the model's buffers are padded)
  int64_t total_trained = 0; // parameters that train over the whole model (real vocabulary)
  std::unique_ptr<DistributedOptimizer> optim; // master weights, AdamW, ZeRO-1 range
  LrSchedule sched;
  ShardView shard_view;
  RankMemory memory; // the estimate checked at start

  // Position in the run: steps done, next global sample, steps skipped so far.
  int64_t start_step = 0, next_sample = 0, skipped_steps = 0;

  std::unique_ptr<GradReducer> reducer;
  std::unique_ptr<StepRunner> runner;
  std::unique_ptr<MetricsWriter> metrics;
  double flops_per_token = 0;
  PeakFlops peak; // what MFU divides by (train/mfu_peak.h)

  int64_t per_rank_batch() const { return settings.global_batch / dims.dp; }
};

// Collective over world. UsageError (every rank) on bad options, layouts, paths or memory.
std::unique_ptr<TrainJob> make_train_job(const TrainOptions& opt, MPI_Comm world);

// When layer's gradients are final: the replicated key/value rows summed over kv_share (tp >
// groups), LoRA's replicated A of column-parallel linears summed over tp (their parts).
void reduce_layer_grad_parts(TrainJob& job, int layer);

// Collective: writes the checkpoint of `step` into --save (the job's current state).
void save_train_checkpoint(TrainJob& job, int64_t step);

} // namespace glm3d
