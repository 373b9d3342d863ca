#include "train/trainer.h"

#include "core/clock.h"
#include "core/format.h"
#include "core/process_memory.h"
#include "pipeline/partition.h"
#include "train/checkpoint_dir.h"
#include "train/checkpoint_signal.h"
#include "train/evaluator.h"
#include "train/replica_check.h"
#include "train/train_job.h"
#include "train/train_step.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace glm3d {

namespace {

using json = nlohmann::ordered_json;

// "3,5" for layers per pipeline stage (each stage's chunks summed).
std::string layer_split(const TrainJob& j) {
  std::string out;
  for (int r = 0; r < j.dims.pp; ++r) {
    int n = 0;
    for (const StageLayers& c :
         chunks_of_rank(int(j.cfg.num_layers), j.dims.pp, r, j.dims.virtual_stages, j.opt.pp_layers))
      n += c.num_layers;
    out += (r ? "," : "") + std::to_string(n);
  }
  return out;
}

// The per-rank memory estimate: each part's maximum over the ranks, and the largest total.
// Also the model state actually allocated on the rank with the most, and its parameter count.
struct PlannedMemory {
  RankMemory parts;
  int64_t total = 0;
  int64_t allocated_state = 0, state_params = 0;
};
PlannedMemory max_over_ranks(const TrainJob& j) {
  const RankMemory& m = j.memory;
  int64_t v[7] = {m.weights, m.grads, m.optimizer, m.activations, m.workspace, m.comm, m.total()};
  MPI_Allreduce(MPI_IN_PLACE, v, 7, MPI_INT64_T, MPI_MAX, j.world);
  struct {
    double bytes;
    int rank;
  } mine{double(j.model->state_bytes() + j.optim->state_bytes()), j.rank}, most;
  MPI_Allreduce(&mine, &most, 1, MPI_DOUBLE_INT, MPI_MAXLOC, j.world);
  int64_t params = j.total;
  MPI_Bcast(&params, 1, MPI_INT64_T, most.rank, j.world);
  return {RankMemory{v[0], v[1], v[2], v[3], v[4], v[5]}, v[6], int64_t(most.bytes), params};
}

// Every resolved setting of the run: printed at start and the metrics file's first record.
json settings_json(const TrainJob& j, const PlannedMemory& planned) {
  const RankMemory& mem = planned.parts;
  const RunSettings& s = j.settings;
  const TrainOptions& o = j.opt;
  return {{"model", to_string(j.cfg)},
          {"data", o.synthetic ? std::string("synthetic") : o.data_dir},
          {"layout", j.dims.str()},
          {"tp", j.dims.tp},
          {"pp", j.dims.pp},
          {"dp", j.dims.dp},
          {"virtual_stages", j.dims.virtual_stages},
          {"layers_per_stage", layer_split(j)},
          {"schedule", o.schedule},
          {"zero", o.zero},
          {"bucket_mb", o.bucket_mb},
          // Data-parallel gradient all-reduces per step (0: dp 1, or ZeRO-1's one reduce-scatter).
          {"dp_buckets", j.dims.dp > 1 && !o.zero ? j.reducer->num_buckets() : 0},
          {"precision", to_string(j.exec.precision)},
          {"recompute", to_string(j.exec.recompute)},
          {"attention", to_string(j.exec.attention)},
          {"micro_batches_per_step", j.num_mb},
          {"global_batch", s.global_batch},
          {"micro_batch", s.micro_batch},
          {"seq_len", j.cfg.seq_len},
          {"steps", o.steps},
          {"start_step", j.start_step},
          {"lr", s.lr},
          {"min_lr", s.min_lr},
          {"warmup_steps", s.warmup_steps},
          {"decay_steps", s.decay_steps},
          {"weight_decay", s.weight_decay},
          {"beta1", s.beta1},
          {"beta2", s.beta2},
          {"eps", s.eps},
          {"clip_grad", s.clip_grad},
          {"seed", s.seed},
          {"save", o.save_dir},
          {"save_interval", o.save_interval},
          {"keep", o.keep},
          {"load", j.resume.path},
          {"finetune", to_string(j.adapters.method)},
          {"finetune_adapters", j.adapters.adapters() ? describe(j.adapters) : std::string()},
          {"finetune_base", j.base.path},
          {"trainable_params", j.total_trained},
          {"peak_tflops", j.peak.flops / 1e12},
          {"peak_source", j.peak.source},
          {"flops_per_token", j.flops_per_token},
          {"eval_data", o.eval_data},
          {"eval_interval", o.eval_interval},
          {"eval_samples", o.eval_samples},
          {"memory_per_rank_bytes",
           {{"weights", mem.weights},
            {"grads", mem.grads},
            {"optimizer", mem.optimizer},
            {"activations", mem.activations},
            {"workspace", mem.workspace},
            {"comm", mem.comm},
            {"total", planned.total}}}};
}

void print_settings(const TrainJob& j, const PlannedMemory& planned) {
  const RankMemory& mem = planned.parts;
  const RunSettings& s = j.settings;
  const TrainOptions& o = j.opt;
  auto p = [](const char* key, const std::string& v) { std::printf("  %-11s %s\n", key, v.c_str()); };
  std::printf("glm3d %s %s\n", j.adapters.method == FinetuneMethod::none ? "train" : "finetune",
              GLM3D_VERSION);
  p("model", to_string(j.cfg));
  p("data", o.synthetic ? "synthetic blank-infilling task" : "token store " + o.data_dir);
  p("layout", j.dims.str() + ", layers per stage " + layer_split(j) + ", schedule " + o.schedule + ", zero " +
                  std::to_string(o.zero));
  p("precision",
    (j.exec.bf16() ? std::string("bf16 weights and matmul inputs, f32 accumulation, gradients and master")
                   : std::string("f32")) +
        ", recompute " + to_string(j.exec.recompute) + ", attention " + to_string(j.exec.attention));
  p("batch", "global " + std::to_string(s.global_batch) + " x seq " + std::to_string(j.cfg.seq_len) +
                 ", micro-batch " + std::to_string(s.micro_batch) + " (" + std::to_string(j.num_mb) +
                 " per step per dp rank)");
  if (j.adapters.method != FinetuneMethod::none)
    p("finetune", describe(j.adapters) + (j.base.active() ? " from " + j.base.path : std::string()) + ", " +
                      std::to_string(j.total_trained) + " trainable parameters");
  p("lr", "peak " + shortest_repr(s.lr) + ", min " + shortest_repr(s.min_lr) + ", warm-up " +
              std::to_string(s.warmup_steps) + ", cosine decay to step " + std::to_string(s.decay_steps));
  p("optimizer", "AdamW beta1 " + shortest_repr(s.beta1) + " beta2 " + shortest_repr(s.beta2) + " eps " +
                     shortest_repr(s.eps) + " weight decay " + shortest_repr(s.weight_decay) + ", clip " +
                     shortest_repr(s.clip_grad));
  p("steps",
    std::to_string(j.start_step + 1) + ".." + std::to_string(o.steps) + ", seed " + std::to_string(s.seed));
  p("checkpoints", o.save_dir.empty() ? std::string("none (no --save)")
                                      : o.save_dir +
                                            (o.save_interval ? ", every " + std::to_string(o.save_interval)
                                                             : std::string(", at the end")) +
                                            (o.keep ? ", keep " + std::to_string(o.keep) : std::string("")));
  p("memory", "per rank (max) " + format_bytes(double(planned.total)) + ": weights " +
                  format_bytes(double(mem.weights)) + ", grads " + format_bytes(double(mem.grads)) +
                  ", optimizer " + format_bytes(double(mem.optimizer)) + ", activations " +
                  format_bytes(double(mem.activations)) + ", workspace " +
                  format_bytes(double(mem.workspace + mem.comm)));
  char peak[32] = "unknown";
  if (j.peak.flops > 0)
    std::snprintf(peak, sizeof peak, "%.3f TFLOP/s", j.peak.flops / 1e12);
  p("MFU peak", std::string(peak) + ", " + j.peak.source);
  std::fflush(stdout);
}

// The peak resident set of every rank so far (maximum over ranks) next to the estimate.
void measure_memory(const TrainJob& j, const PlannedMemory& planned, StepMetrics& m) {
  int64_t peak = peak_rss_bytes();
  MPI_Allreduce(MPI_IN_PLACE, &peak, 1, MPI_INT64_T, MPI_MAX, j.world);
  m.mem_peak_rss = peak;
  m.mem_planned = planned.total + k_process_baseline_bytes;
  m.mem_model_state = planned.parts.model_state();
  m.mem_state_allocated = planned.allocated_state;
  m.mem_state_params = planned.state_params;
}

// ETA from the steps of this run; the first step (primitive creation, first touches of memory)
// is left out as soon as a second one exists.
class StepClock {
public:
  void add(double step_s) {
    if (n_++ == 0)
      first_ = step_s;
    else
      rest_ += step_s;
  }
  double eta(int64_t remaining) const {
    if (n_ == 0)
      return -1;
    const double per = n_ == 1 ? first_ : rest_ / double(n_ - 1);
    return per * double(remaining);
  }

private:
  int64_t n_ = 0;
  double first_ = 0, rest_ = 0;
};

// The trained weights, whichever their type.
const void* weights_of(const ParamStore& s) {
  return s.params ? static_cast<const void*>(s.params) : static_cast<const void*>(s.weights_bf16);
}

// --inject-fault diverge: this rank's first trained weight changes, its peers' do not.
void nudge_first_weight(const ParamStore& s) {
  if (s.params)
    s.params[0] += 1e-3f;
  else
    s.weights_bf16[0].bits ^= 1;
}

} // namespace

std::string reshard_checkpoint(TrainOptions opt, MPI_Comm world) {
  opt.save_only = true;
  opt.quiet = true;
  const std::unique_ptr<TrainJob> job = make_train_job(opt, world);
  save_train_checkpoint(*job, job->start_step);
  return (std::filesystem::path(opt.save_dir) / checkpoint_file_name(job->start_step)).string();
}

TrainResult train(const TrainOptions& opt, MPI_Comm world, const StopSignals* stop_signals) {
  const std::unique_ptr<TrainJob> job = make_train_job(opt, world);
  TrainJob& j = *job;
  TrainResult result;
  if (!j.model) {
    if (j.log && !opt.dry_run)
      std::printf("checkpoint %s is at step %lld; --steps %lld asks for no further step: nothing to do\n",
                  j.resume.path.c_str(), (long long)j.resume.meta.step, (long long)opt.steps);
    result.nothing_to_do = true;
    return result;
  }
  const PlannedMemory mem = max_over_ranks(j);
  if (j.log)
    print_settings(j, mem);
  j.metrics->set_run_settings(settings_json(j, mem));
  result.skipped_steps = j.skipped_steps;
  const std::unique_ptr<Evaluator> evaluator = make_evaluator(j);

  if (const int stop = agree_on_stop(stop_signals, world)) {
    if (j.log)
      std::printf("stopping before step %lld: %s received during start-up (nothing trained, nothing saved)\n",
                  (long long)j.start_step + 1, signal_name(stop));
    return result;
  }
  StepClock clock;
  int64_t consecutive_skips = 0;
  const auto t_start = Clock::now();
  for (int64_t step = j.start_step + 1; step <= opt.steps; ++step) {
    j.tracker.heartbeat();
    j.faults.before_step(step, j.rank);
    const bool skip = j.skip_iters.contains(step); // no forward, no update: samples passed over
    StepMetrics m = skip ? skipped_step_metrics(j, step) : run_train_step(j, step, consecutive_skips);
    if (skip)
      ++j.skipped_steps;
    if (j.faults.diverge_at(step, j.rank))
      nudge_first_weight(j.store);
    result.losses.push_back(m.loss);
    m.skipped_total = result.skipped_steps = j.skipped_steps;
    m.elapsed_s = seconds_since(t_start);
    measure_memory(j, mem, m);
    if (!skip)
      clock.add(m.step_time_s);
    m.eta_s = clock.eta(opt.steps - step);
    if (evaluator && evaluator->due(step, opt.steps)) {
      const EvalResult e = evaluator->run();
      m.evaluated = true, m.eval_loss = e.loss, m.eval_tokens = e.tokens;
      result.eval_losses.emplace_back(step, e.loss);
    }
    j.metrics->write(m);
    if (j.log && (skip || step % opt.log_interval == 0 || step == opt.steps || step == j.start_step + 1)) {
      std::printf("%s\n", skip ? ("step " + std::to_string(step) + "/" + std::to_string(opt.steps) +
                                  " | skipped (--skip-iters)")
                                     .c_str()
                               : progress_line(m).c_str());
      std::fflush(stdout);
    }
    // After every step, trained or skipped: advance the data, check replicas, agree on a stop
    // request (a raw MPI call: control traffic, not counted in bytes), save.
    j.next_sample += j.settings.global_batch;
    if (opt.check_replicas_interval > 0 && (step % opt.check_replicas_interval == 0 || step == opt.steps))
      check_replicas(*j.store.table, weights_of(j.store), j.store.params ? 4 : 2, j.pg, step,
                     j.cfg.tie_embeddings, j.kv_share.get());
    const int stop = agree_on_stop(stop_signals, world);
    const bool interval = opt.save_interval > 0 && step % opt.save_interval == 0;
    if (!opt.save_dir.empty() && (interval || step == opt.steps || stop))
      save_train_checkpoint(j, step);
    if (stop) {
      if (j.log)
        std::printf("stopping after step %lld: %s received\n", (long long)step, signal_name(stop));
      break;
    }
  }
  return result;
}

} // namespace glm3d
