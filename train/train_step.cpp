#include "train/train_step.h"

#include "core/check.h"
#include "core/clock.h"
#include "core/cpu/elementwise.h"

#include <cmath>

namespace glm3d {

namespace {

// Sum of squares of the gradients this rank is responsible for, counting every
// logical parameter exactly once over the whole job: tp-replicated tensors on tp
// rank 0 only (replicated key/value groups on their owner only), the tied embedding on the
// first stage only, data-parallel copies on
// dp rank 0 only (or each rank's own shard under ZeRO-1: [own_begin, own_end)).
double owned_sum_squares(const ParamTable& table, const float* grads, const ProcessGroups& pg,
                         int64_t own_begin, int64_t own_end) {
  double s = 0;
  for (const auto& p : table.params()) {
    if (p.first_stage_only && !pg.is_first_stage())
      continue;
    for (const auto& [ub, ue] : p.tp_unique_ranges(pg.tp_rank())) {
      const int64_t b = std::max(own_begin, p.offset + ub), e = std::min(own_end, p.offset + ue);
      if (b < e)
        s += cpu::sum_squares(grads + b, e - b);
    }
  }
  return s;
}

// This dp rank's micro-batches of the step: samples [first, first + per_rank) of the global
// batch, stacked micro_batch at a time. Returns the target tokens of the whole global batch.
int64_t load_batch(TrainJob& j, std::vector<MicroBatch>& mbs) {
  const int64_t per_rank = j.per_rank_batch();
  const int64_t first = j.next_sample + j.pg.dp_rank() * per_rank;
  std::vector<int64_t> ks;
  for (int64_t i = 0; i < per_rank; ++i)
    ks.push_back(first + i);
  j.source->will_need(ks);
  int64_t targets = 0;
  for (int m = 0; m < j.num_mb; ++m) {
    std::vector<Sample> samples;
    for (int64_t i = 0; i < j.settings.micro_batch; ++i)
      samples.push_back(j.source->get(ks[size_t(m * j.settings.micro_batch + i)]));
    mbs.push_back(stack_samples(samples));
    mbs.back().sample_ids.assign(ks.begin() + m * j.settings.micro_batch,
                                 ks.begin() + (m + 1) * j.settings.micro_batch);
    targets += mbs.back().target_count();
  }
  j.pg.dp->all_reduce(&targets, 1, ReduceOp::sum);
  return targets;
}

// Tied embedding first (first and last stage each hold a copy), then data parallel: buckets
// already in flight (finish), or ZeRO-1's reduce-scatter into this rank's shard.
// Before that, the parts of adapters every model-parallel rank holds whole (the prefix encoder:
// each stage and tp rank differentiates its layers' and heads' share of its output).
void reduce_gradients(TrainJob& j) {
  const ParamTable& table = *j.store.table;
  const ParamInfo* emb = table.find("word_embeddings.weight");
  if (j.cfg.tie_embeddings && emb && j.pg.embedding && j.pg.embedding->size() > 1)
    j.pg.embedding->all_reduce(j.store.grads + emb->offset, size_t(emb->numel()), ReduceOp::sum);
  if (j.pg.model_parallel && j.pg.model_parallel->size() > 1)
    for (const ParamInfo& p : table.params())
      if (p.grad_sum == GradSum::model_parallel)
        j.pg.model_parallel->all_reduce(j.store.grads + p.offset, size_t(p.numel()), ReduceOp::sum);
  if (j.opt.zero && j.dims.dp > 1)
    j.optim->reduce_scatter_grads();
  else
    j.reducer->finish();
}

// Clip, AdamW on this rank's master range, and the publication of the new weights.
void update(TrainJob& j, double grad_norm, double lr, int64_t step) {
  const double clip_to = j.settings.clip_grad;
  const double clip = clip_to > 0 && grad_norm > clip_to ? clip_to / (grad_norm + 1e-6) : 1.0;
  j.optim->step(clip, lr, step - j.skipped_steps);
  j.optim->publish();
}

// Bytes per group: the sum over the ranks of each group's payload this step (one all-reduce;
// every rank has the same groups in the same order).
std::map<std::string, uint64_t> bytes_per_group(TrainJob& j) {
  const std::map<std::string, uint64_t> mine = j.pg.bytes_by_group();
  std::vector<uint64_t> bytes;
  for (const auto& [name, b] : mine)
    bytes.push_back(b);
  j.pg.world->all_reduce(bytes.data(), bytes.size(), ReduceOp::sum);
  std::map<std::string, uint64_t> out;
  size_t g = 0;
  for (const auto& [name, b] : mine)
    out[name] = bytes[g++];
  return out;
}

} // namespace

StepMetrics skipped_step_metrics(const TrainJob& j, int64_t step) {
  StepMetrics m;
  m.step = step;
  m.total_steps = j.opt.steps;
  m.loss = m.grad_norm = std::nan("");
  m.lr = j.sched.at(step);
  m.skipped = true;
  return m;
}

StepMetrics run_train_step(TrainJob& j, int64_t step, int64_t& consecutive_skips) {
  const auto t0 = Clock::now();
  j.pg.reset_bytes();
  std::vector<MicroBatch> mbs;
  const int64_t global_targets = load_batch(j, mbs);
  GLM3D_USAGE_CHECK(global_targets > 0) << "global batch at step " << step << " has no target tokens";

  j.model->zero_grads();
  j.model->set_step(step);
  j.model->set_batch(&mbs, 1.0 / double(global_targets));
  j.reducer->begin_step(j.num_mb);
  StepTiming timing = j.runner->run();
  const auto t_comm = Clock::now();
  reduce_gradients(j);
  timing.comm_wait_s = seconds_since(t_comm);

  // Global gradient norm over every parameter of the model, each counted once, and the loss
  // (on the last stage) in one all-reduce.
  const bool dp_owner = j.opt.zero || j.pg.dp_rank() == 0;
  if (j.faults.nan_at(step) && j.rank == 0)
    j.store.grads[j.optim->begin()] = std::nanf("");
  double sums[2] = {
      dp_owner ? owned_sum_squares(*j.store.table, j.store.grads, j.pg, j.optim->begin(), j.optim->end())
               : 0.0,
      j.pg.is_last_stage() && j.pg.tp_rank() == 0 ? j.model->loss_sum() : 0.0};
  j.pg.world->all_reduce(sums, 2, ReduceOp::sum);

  StepMetrics m;
  m.step = step;
  m.total_steps = j.opt.steps;
  m.grad_norm = std::sqrt(sums[0]);
  m.loss = sums[1];
  m.lr = j.sched.at(step);
  m.skipped = !std::isfinite(m.grad_norm) || !std::isfinite(m.loss);
  if (m.skipped) {
    ++j.skipped_steps;
    GLM3D_USAGE_CHECK(++consecutive_skips < j.opt.max_skipped)
        << "stopping: " << consecutive_skips << " consecutive steps with a non-finite loss or gradient norm"
        << " (last at step " << step << ")";
  } else {
    consecutive_skips = 0;
    update(j, m.grad_norm, m.lr, step);
  }
  m.step_time_s = seconds_since(t0);
  m.tokens = j.settings.global_batch * j.cfg.seq_len;
  m.target_tokens = global_targets;
  m.tokens_per_s = double(m.tokens) / m.step_time_s;
  m.mfu = model_flops_utilisation(j.flops_per_token, m.tokens_per_s, j.peak);
  m.compute_s = timing.compute_s;
  m.comm_wait_s = timing.comm_wait_s;
  m.bubble_s = timing.bubble_s;
  m.bytes_per_group = bytes_per_group(j);
  return m;
}

} // namespace glm3d
