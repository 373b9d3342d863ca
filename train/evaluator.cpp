#include "train/evaluator.h"

#include "core/check.h"
#include "core/clock.h"
#include "data/sft_source.h"
#include "pipeline/executor.h"
#include "train/model_stage.h"

#include <algorithm>

namespace glm3d {

struct Evaluator::Impl {
  TrainJob& j;
  std::unique_ptr<SampleSource> source;
  int64_t samples, interval;
  ModelStage stage{*j.model};
  std::unique_ptr<PipelineExecutor> executor = j.dims.pp > 1
                                                   ? std::make_unique<PipelineExecutor>(*j.pg.pp,
                                                                                        j.dims.virtual_stages)
                                                   : nullptr;

  // This replica's micro-batches of samples [s0, s1).
  std::vector<MicroBatch> micro_batches(int64_t s0, int64_t s1) {
    std::vector<int64_t> ks;
    for (int64_t k = s0; k < s1; ++k)
      ks.push_back(k);
    source->will_need(ks);
    std::vector<MicroBatch> mbs;
    const int64_t mb = j.settings.micro_batch;
    for (int64_t k = s0; k < s1; k += mb) {
      std::vector<Sample> group;
      for (int64_t i = k; i < std::min(s1, k + mb); ++i)
        group.push_back(source->get(i));
      mbs.push_back(stack_samples(group));
    }
    return mbs;
  }

  // Forward only over `mbs` (one pass); returns this rank's summed loss (last stage) and targets.
  double forward_pass(std::vector<MicroBatch>& mbs) {
    const int V = j.dims.virtual_stages, pp = j.dims.pp;
    // The interleaved schedule needs a multiple of pp micro-batches: fill up with copies that
    // carry no target (loss_mask 0), which add nothing to the loss.
    while (V > 1 && mbs.size() % size_t(pp) != 0) {
      MicroBatch blank = mbs.back();
      std::fill(blank.loss_mask.begin(), blank.loss_mask.end(), uint8_t(0));
      mbs.push_back(std::move(blank));
    }
    j.model->training = false; // no adapter dropout (LoRA, prefix)
    j.model->set_batch(&mbs, 1.0);
    if (pp == 1) {
      for (int m = 0; m < int(mbs.size()); ++m)
        j.model->forward(0, m, nullptr, nullptr);
    } else {
      const ScheduleKind kind = V > 1 ? ScheduleKind::interleaved : ScheduleKind::gpipe;
      executor->run(build_schedule(kind, pp, j.pg.pp_rank(), int(mbs.size()), V, true), stage);
    }
    const double loss = j.model->loss_sum();
    j.model->set_batch(&mbs, 1.0); // frees the activations
    j.model->training = true;
    return loss;
  }
};

Evaluator::Evaluator(TrainJob& job, std::unique_ptr<SampleSource> source, int64_t samples, int64_t interval)
    : impl_(new Impl{job, std::move(source), samples, interval}) {}

Evaluator::~Evaluator() = default;

bool Evaluator::due(int64_t step, int64_t last) const {
  return step == last || (impl_->interval > 0 && step % impl_->interval == 0);
}

EvalResult Evaluator::run() {
  Impl& s = *impl_;
  TrainJob& j = s.j;
  const auto t0 = Clock::now();
  const int64_t dp = j.dims.dp, r = j.pg.dp_rank();
  const int64_t s0 = s.samples * r / dp, s1 = s.samples * (r + 1) / dp;
  const int64_t per_pass = int64_t(j.num_mb) * j.settings.micro_batch;
  double sums[2] = {0, 0}; // loss, target tokens (counted once per replica: last stage, tp rank 0)
  const bool counts = j.pg.is_last_stage() && j.pg.tp_rank() == 0;
  for (int64_t p0 = s0; p0 < s1; p0 += per_pass) {
    j.tracker.heartbeat();
    std::vector<MicroBatch> mbs = s.micro_batches(p0, std::min(s1, p0 + per_pass));
    int64_t targets = 0;
    for (const MicroBatch& mb : mbs)
      targets += mb.target_count();
    const double loss = s.forward_pass(mbs);
    if (counts)
      sums[0] += loss, sums[1] += double(targets);
  }
  j.pg.world->all_reduce(sums, 2, ReduceOp::sum);
  EvalResult res;
  res.tokens = int64_t(sums[1]);
  GLM3D_USAGE_CHECK(res.tokens > 0) << "the " << s.samples << " evaluation samples hold no target token";
  res.loss = sums[0] / sums[1];
  res.seconds = seconds_since(t0);
  return res;
}

std::unique_ptr<Evaluator> make_evaluator(TrainJob& j) {
  const TrainOptions& o = j.opt;
  if (o.eval_data.empty())
    return nullptr;
  GLM3D_USAGE_CHECK(o.eval_samples >= 1) << "--eval-samples must be >= 1, got " << o.eval_samples;
  GLM3D_USAGE_CHECK(o.eval_interval >= 0)
      << "--eval-interval must be >= 0 (0: after the last step only), got " << o.eval_interval;
  auto source = open_eval_source(o.eval_data, j.cfg.seq_len, j.settings.seed, j.tokenizer_sha256);
  GLM3D_USAGE_CHECK(source->vocab_size() <= j.cfg.vocab)
      << "--eval-data " << o.eval_data << " holds token ids up to " << source->vocab_size()
      << ", more than the model's vocabulary of " << j.cfg.vocab;
  const int64_t have = finite_sample_count(*source);
  GLM3D_USAGE_CHECK(have < 0 || o.eval_samples <= have)
      << "--eval-samples " << o.eval_samples << " is more than the " << have
      << " examples of the valid split of " << o.eval_data;
  return std::make_unique<Evaluator>(j, std::move(source), o.eval_samples, o.eval_interval);
}

} // namespace glm3d
