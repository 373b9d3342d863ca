#pragma once
// Held-out loss during training (`--eval-data DIR --eval-interval N --eval-samples K`): every N
// steps and after the last one, the forward pass alone over the same K samples (0..K-1 of the
// eval source: an SFT store's valid split, or a token store's samples under the run's seed,
// data/sft_source.h), on the run's layout: the samples are shared out over the data-parallel
// replicas, each replica runs them through its pipeline with the forward-only schedule in passes
// of at most the training step's micro-batches (so activations never exceed a training step's),
// and the loss is the sum of the per-token cross-entropies over all target tokens divided by
// their count, summed over the replicas: the mean `glm3d eval` prints for the same samples.
// The weights are not touched; the next step's set_batch replaces the batch.
#include "data/sample.h"
#include "train/train_job.h"

#include <cstdint>
#include <memory>

namespace glm3d {

struct EvalResult {
  double loss = 0;    // mean over target tokens
  int64_t tokens = 0; // target tokens of the K samples
  double seconds = 0; // wall time on rank 0
};

class Evaluator {
public:
  Evaluator(TrainJob& job, std::unique_ptr<SampleSource> source, int64_t samples, int64_t interval);
  ~Evaluator();
  // After step `step` of a run ending at `last`: every `interval` steps (0: only at the end).
  bool due(int64_t step, int64_t last) const;
  EvalResult run(); // collective over the job's world

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The evaluator of the job's --eval-data, or nullptr without it. UsageError (every rank) for a
// bad directory, --eval-samples < 1, --eval-interval < 0, more samples than an SFT valid split
// holds, a store made with another tokenizer than the training data's, or one whose vocabulary
// is larger than the model's.
std::unique_ptr<Evaluator> make_evaluator(TrainJob& job);

} // namespace glm3d
