#include "train/trainer.h"

#include "core/check.h"
#include "core/clock.h"
#include "core/cpu/elementwise.h"
#include "data/store_source.h"
#include "data/synthetic_task.h"
#include "model/config.h"
#include "model/glm_model.h"
#include "parallel/process_groups.h"
#include "pipeline/partition.h"
#include "train/checkpoint.h"
#include "train/checkpoint_resume.h"
#include "train/checkpoint_signal.h"
#include "train/fault_injection.h"
#include "train/grad_reducer.h"
#include "train/iter_ranges.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"
#include "train/step_runner.h"
#include "train/watchdog.h"

#include <cmath>
#include <cstdio>
#include <memory>

namespace glm3d {

namespace {

void check_options(const TrainOptions& o) {
  GLM3D_USAGE_CHECK(o.steps > 0) << "--steps must be positive, got " << o.steps;
  GLM3D_USAGE_CHECK(o.micro_batch > 0) << "--micro-batch must be positive, got " << o.micro_batch;
  GLM3D_USAGE_CHECK(o.global_batch > 0) << "--global-batch must be positive, got " << o.global_batch;
  GLM3D_USAGE_CHECK(o.lr >= 0 && std::isfinite(o.lr))
      << "--lr must be positive (0: the preset's), got " << o.lr;
  GLM3D_USAGE_CHECK(o.warmup_steps >= 0) << "--warmup-steps must be >= 0, got " << o.warmup_steps;
  GLM3D_USAGE_CHECK(o.clip_grad >= 0) << "--clip-grad must be >= 0, got " << o.clip_grad;
  GLM3D_USAGE_CHECK(o.weight_decay >= 0) << "--weight-decay must be >= 0, got " << o.weight_decay;
  GLM3D_USAGE_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1)
      << "--beta1 and --beta2 must be in [0, 1)";
  GLM3D_USAGE_CHECK(o.zero == 0 || o.zero == 1) << "--zero must be 0 or 1, got " << o.zero;
  GLM3D_USAGE_CHECK(o.synthetic != !o.data_dir.empty()) << "give exactly one of --synthetic or --data DIR";
  GLM3D_USAGE_CHECK(o.seq_len >= 0) << "--seq-len must be >= 0, got " << o.seq_len;
  GLM3D_USAGE_CHECK(o.bucket_mb > 0) << "--bucket-mb must be positive, got " << o.bucket_mb;
  GLM3D_USAGE_CHECK(o.max_skipped > 0) << "--max-skipped must be positive, got " << o.max_skipped;
  GLM3D_USAGE_CHECK(o.hang_timeout >= 0)
      << "--hang-timeout must be >= 0 seconds (0: off), got " << o.hang_timeout;
  GLM3D_USAGE_CHECK(o.embedding_grad_shrink > 0 && o.embedding_grad_shrink <= 1)
      << "--embedding-grad-shrink must be in (0, 1], got " << o.embedding_grad_shrink;
  GLM3D_USAGE_CHECK(o.save_interval >= 0 && o.keep >= 0) << "--save-interval and --keep must be >= 0";
  GLM3D_USAGE_CHECK(!o.model.empty() || !o.load.empty()) << "--model is required without --load";
}

// Sum of squares of the gradients this rank is responsible for, counting every
// logical parameter exactly once over the whole job: tp-replicated tensors on tp
// rank 0 only, the tied embedding on the first stage only, data-parallel copies on
// dp rank 0 only (or each rank's own shard under ZeRO-1: [own_begin, own_end)).
double owned_sum_squares(const ParamTable& table, const float* grads, const ProcessGroups& pg,
                         int64_t own_begin, int64_t own_end) {
  double s = 0;
  for (const auto& p : table.params()) {
    if (p.tp_replicated() && pg.tp_rank() != 0)
      continue;
    if (p.name == "word_embeddings.weight" && !pg.is_first_stage())
      continue;
    const int64_t b = std::max(own_begin, p.offset), e = std::min(own_end, p.offset + p.numel());
    if (b < e)
      s += cpu::sum_squares(grads + b, e - b);
  }
  return s;
}

} // namespace

TrainResult train(const TrainOptions& opt, MPI_Comm world, const StopSignals* stop_signals) {
  check_options(opt);
  int rank = 0, world_size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &world_size);
  const bool log = rank == 0 && !opt.quiet;

  // A resumed run continues the checkpoint's data stream: its seed keys every sample.
  const ResumeFrom resume = open_resume(opt.load);
  const uint64_t seed = resume.continues_run() ? resume.meta.seed : opt.seed;
  ModelConfig cfg = opt.model.empty() ? resume.meta.cfg : load_model_config(opt.model);
  if (opt.seq_len > 0)
    cfg.seq_len = opt.seq_len;
  std::unique_ptr<SampleSource> source;
  if (opt.synthetic) {
    source = std::make_unique<SyntheticTask>(cfg.seq_len, cfg.vocab, seed);
  } else {
    source = open_store_source(opt.data_dir, cfg.seq_len, seed, CollatorOptions{});
    cfg.vocab = source->vocab_size(); // the store's tokenizer decides the vocabulary
  }
  validate(cfg);
  check_resume(resume, cfg, source->tokenizer_hash());
  const double lr = opt.lr > 0 ? opt.lr : cfg.lr;
  const double min_lr = opt.min_lr >= 0 ? opt.min_lr : lr / 10;
  GLM3D_USAGE_CHECK(min_lr <= lr) << "--min-lr " << min_lr << " must not exceed the peak lr " << lr;

  const ParallelDims dims = ParallelDims::make(world_size, opt.tp, opt.pp, opt.dp, opt.virtual_stages);
  validate_for_model(dims, cfg.num_layers, cfg.num_heads, cfg.ffn_hidden, opt.pp_layers);
  GLM3D_USAGE_CHECK(opt.global_batch % (opt.micro_batch * dims.dp) == 0)
      << "--global-batch " << opt.global_batch << " must be a multiple of micro-batch " << opt.micro_batch
      << " x dp " << dims.dp;
  const int num_mb = int(opt.global_batch / (opt.micro_batch * dims.dp));
  const ScheduleKind schedule = parse_schedule(opt.schedule);
  // Validates the (schedule, pp, micro-batches, virtual stages) combination up front.
  if (dims.pp > 1)
    build_schedule(schedule, dims.pp, 0, num_mb, dims.virtual_stages);
  else
    GLM3D_USAGE_CHECK(dims.virtual_stages == 1) << "--virtual-stages needs --pp > 1";

  ProcessGroups pg = ProcessGroups::create(world, dims);
  const IterRanges skip_iters = parse_iter_ranges(opt.skip_iters, "--skip-iters");
  const FaultPlan faults = parse_fault_plan(opt.inject_fault);
  OpTracker tracker; // what this rank is blocked in, for the watchdog
  for (auto* c : {&pg.world, &pg.tp, &pg.dp, &pg.pp, &pg.embedding, &pg.model_parallel})
    if (*c)
      (*c)->set_tracker(&tracker);
  Watchdog watchdog(opt.hang_timeout, rank, tracker);
  StagePlan plan;
  plan.tp = dims.tp;
  plan.tp_rank = pg.tp_rank();
  for (const StageLayers& s :
       chunks_of_rank(int(cfg.num_layers), dims.pp, pg.pp_rank(), dims.virtual_stages, opt.pp_layers))
    plan.chunks.emplace_back(s.first_layer, s.num_layers);
  plan.has_embedding = pg.is_first_stage() || pg.is_last_stage();

  GlmModel<float> model(cfg, plan, *pg.tp, opt.bf16 ? cpu::Precision::bf16 : cpu::Precision::f32);
  model.init(seed); // a resumed run then overwrites it from the checkpoint
  model.embedding_grad_shrink = opt.embedding_grad_shrink;
  const int64_t total = model.num_params();

  // Optimizer range: everything, or this dp rank's shard under ZeRO-1.
  const int64_t shard = (total + dims.dp - 1) / dims.dp;
  const int64_t own_begin = opt.zero ? std::min(total, shard * pg.dp_rank()) : 0;
  const int64_t own_end = opt.zero ? std::min(total, own_begin + shard) : total;
  cpu::AdamWHyper hyper;
  hyper.beta1 = opt.beta1;
  hyper.beta2 = opt.beta2;
  hyper.eps = opt.eps;
  hyper.weight_decay = opt.weight_decay;
  AdamW adam(model.table(), hyper, own_begin, own_end);
  LrSchedule sched{lr, min_lr, opt.warmup_steps, opt.decay_steps > 0 ? opt.decay_steps : opt.steps};

  // Resume: parameters (padded vocabulary rows zero), optimizer state, position in the run.
  const ShardView shard_view{&model.table(), pg.tp_rank(), pg.is_first_stage(), pg.dp_rank(), opt.zero == 1,
                             own_begin,      own_end};
  int64_t start_step = 0, next_sample = 0, skipped_before = 0;
  if (resume.active()) {
    const bool with_adam = resume.continues_run() && resume.meta.has_optimizer_state;
    std::fill(model.params(), model.params() + total, 0.f);
    std::vector<TensorPiece> pieces =
        shard_pieces(shard_view, cfg, model.params(), with_adam ? adam.m().data() : nullptr,
                     with_adam ? adam.v().data() : nullptr);
    const auto t_load = Clock::now();
    load_checkpoint(resume.path, world, resume.meta, pieces);
    const double load_s = seconds_since(t_load);
    if (resume.continues_run()) {
      start_step = resume.meta.step;
      next_sample = resume.meta.next_sample;
      skipped_before = resume.meta.skipped_steps;
    }
    if (log)
      std::printf("resumed from %s (step %lld, written at %s) in %.2f s\n", resume.path.c_str(),
                  (long long)start_step,
                  ParallelDims::make(resume.meta.tp * resume.meta.pp * resume.meta.dp, resume.meta.tp,
                                     resume.meta.pp, resume.meta.dp)
                      .str()
                      .c_str(),
                  load_s);
  }
  if (log && resume.continues_run() &&
      (resume.meta.decay_steps != sched.decay_steps || resume.meta.warmup_steps != sched.warmup_steps ||
       resume.meta.lr_max != sched.max_lr || resume.meta.lr_min != sched.min_lr))
    std::printf("note: the LR schedule differs from the checkpoint's (decay over %lld steps, was %lld)\n",
                (long long)sched.decay_steps, (long long)resume.meta.decay_steps);
  auto save_now = [&](int64_t step, int64_t skipped) {
    CheckpointMeta meta;
    meta.cfg = cfg;
    meta.step = step;
    meta.skipped_steps = skipped;
    meta.next_sample = next_sample;
    meta.global_batch = opt.global_batch;
    meta.seed = seed;
    meta.lr_max = sched.max_lr;
    meta.lr_min = sched.min_lr;
    meta.warmup_steps = sched.warmup_steps;
    meta.decay_steps = sched.decay_steps;
    meta.beta1 = hyper.beta1;
    meta.beta2 = hyper.beta2;
    meta.eps = hyper.eps;
    meta.weight_decay = hyper.weight_decay;
    meta.has_optimizer_state = true;
    meta.tp = dims.tp;
    meta.pp = dims.pp;
    meta.dp = dims.dp;
    meta.virtual_stages = dims.virtual_stages;
    meta.zero = opt.zero;
    meta.tokenizer_sha256 = source->tokenizer_hash();
    const auto t0 = Clock::now();
    const std::string path =
        save_checkpoint(opt.save_dir, opt.keep, world, meta,
                        shard_pieces(shard_view, cfg, model.params(), adam.m().data(), adam.v().data()));
    if (log) {
      std::printf("saved %s (%.2f s)\n", path.c_str(), seconds_since(t0));
      std::fflush(stdout);
    }
  };

  GradReducer reducer(model.table(), *pg.dp, model.grads(), opt.bucket_mb * 1024 * 1024 / 4);
  if (!opt.zero)
    model.on_layer_backward_done = [&](int l, int mb) { reducer.on_layer_backward_done(l, mb); };
  StepRunner runner(model, pg, schedule, num_mb);
  std::vector<float> zero_send, zero_recv; // ZeRO-1 scratch [dp * shard]

  MetricsWriter metrics(rank == 0 ? opt.metrics_file : "");
  if (log) {
    std::printf("glm3d train: %s\n", to_string(cfg).c_str());
    std::printf("layout: %s, schedule %s, %d micro-batches of %lld per step, zero %d, %s\n",
                dims.str().c_str(), opt.schedule.c_str(), num_mb, (long long)opt.micro_batch, opt.zero,
                opt.bf16 ? "bf16" : "f32");
    std::fflush(stdout);
  }

  TrainResult result;
  result.skipped_steps = skipped_before;
  int64_t consecutive_skips = 0;
  const auto t_start = Clock::now();
  const double flops_per_token = training_flops_per_token(cfg);
  // After every step, trained or skipped: advance the data, agree on a stop request, save.
  // True: stop now.
  auto end_of_step = [&](int64_t step) {
    next_sample += opt.global_batch;
    // Ranks agree on a stop request (a raw MPI call: control traffic, not counted in bytes).
    const int stop = agree_on_stop(stop_signals, world);
    const bool interval = opt.save_interval > 0 && step % opt.save_interval == 0;
    if (!opt.save_dir.empty() && (interval || step == opt.steps || stop))
      save_now(step, result.skipped_steps);
    if (stop && log)
      std::printf("stopping after step %lld: %s received\n", (long long)step, signal_name(stop));
    return stop != 0;
  };
  if (const int stop = agree_on_stop(stop_signals, world); stop && start_step < opt.steps) {
    if (log)
      std::printf("stopping before step %lld: %s received during start-up (nothing trained, nothing saved)\n",
                  (long long)start_step + 1, signal_name(stop));
    return result;
  }
  for (int64_t step = start_step + 1; step <= opt.steps; ++step) {
    const auto t0 = Clock::now();
    tracker.heartbeat();
    faults.before_step(step, rank);
    if (skip_iters.contains(step)) { // no forward, no update: the step's samples are passed over
      ++result.skipped_steps;
      result.losses.push_back(std::nan(""));
      StepMetrics m;
      m.step = step;
      m.total_steps = opt.steps;
      m.loss = m.grad_norm = std::nan("");
      m.lr = sched.at(step);
      m.skipped = true;
      m.skipped_total = result.skipped_steps;
      if (rank == 0)
        metrics.write(m);
      if (log)
        std::printf("step %lld/%lld | skipped (--skip-iters)\n", (long long)step, (long long)opt.steps);
      if (end_of_step(step))
        break;
      continue;
    }
    pg.reset_bytes();
    // This dp rank's samples of the global batch: [first, first + per_rank).
    const int64_t per_rank = opt.global_batch / dims.dp;
    const int64_t first = next_sample + pg.dp_rank() * per_rank;
    std::vector<int64_t> ks;
    for (int64_t i = 0; i < per_rank; ++i)
      ks.push_back(first + i);
    source->will_need(ks);
    std::vector<MicroBatch> mbs;
    int64_t local_targets = 0;
    for (int m = 0; m < num_mb; ++m) {
      std::vector<Sample> samples;
      for (int64_t i = 0; i < opt.micro_batch; ++i)
        samples.push_back(source->get(ks[size_t(m * opt.micro_batch + i)]));
      mbs.push_back(stack_samples(samples));
      local_targets += mbs.back().target_count();
    }
    int64_t global_targets = local_targets;
    pg.dp->all_reduce(&global_targets, 1, ReduceOp::sum);
    GLM3D_USAGE_CHECK(global_targets > 0) << "global batch at step " << step << " has no target tokens";

    model.zero_grads();
    model.set_batch(&mbs, 1.0 / double(global_targets));
    reducer.begin_step(num_mb);
    StepTiming timing = runner.run();
    const auto t_comm = Clock::now();

    // Tied embedding: first and last stage each hold a copy; sum their grads first.
    const ParamInfo* emb = model.table().find("word_embeddings.weight");
    if (emb && pg.embedding && pg.embedding->size() > 1)
      pg.embedding->all_reduce(model.grads() + emb->offset, size_t(emb->numel()), ReduceOp::sum);
    if (opt.zero && dims.dp > 1) {
      zero_send.assign(size_t(shard * dims.dp), 0.f);
      std::copy(model.grads(), model.grads() + total, zero_send.begin());
      zero_recv.resize(size_t(shard));
      pg.dp->reduce_scatter(zero_send.data(), zero_recv.data(), size_t(shard), DType::f32, ReduceOp::sum);
      std::copy(zero_recv.begin(), zero_recv.begin() + (own_end - own_begin), model.grads() + own_begin);
    } else {
      reducer.finish();
    }
    timing.comm_wait_s = seconds_since(t_comm);

    // Global gradient norm over every parameter of the model, each counted once.
    const bool dp_owner = opt.zero || pg.dp_rank() == 0;
    if (faults.nan_at(step) && rank == 0)
      model.grads()[own_begin] = std::nanf("");
    // One all-reduce for both: [sum of squares, loss] (the loss lives on the last stage).
    double sums[2] = {dp_owner ? owned_sum_squares(model.table(), model.grads(), pg, own_begin, own_end)
                               : 0.0,
                      pg.is_last_stage() && pg.tp_rank() == 0 ? model.loss_sum() : 0.0};
    pg.world->all_reduce(sums, 2, ReduceOp::sum);
    const double grad_norm = std::sqrt(sums[0]), loss = sums[1];

    StepMetrics m;
    m.step = step;
    m.total_steps = opt.steps;
    m.loss = loss;
    m.grad_norm = grad_norm;
    m.lr = sched.at(step);
    m.skipped = !std::isfinite(grad_norm) || !std::isfinite(loss);
    if (m.skipped) {
      ++result.skipped_steps;
      GLM3D_USAGE_CHECK(++consecutive_skips < opt.max_skipped)
          << "stopping: " << consecutive_skips << " consecutive steps with a non-finite loss or gradient norm"
          << " (last at step " << step << ")";
    } else {
      consecutive_skips = 0;
      const double clip =
          opt.clip_grad > 0 && grad_norm > opt.clip_grad ? opt.clip_grad / (grad_norm + 1e-6) : 1.0;
      if (clip < 1.0)
        cpu::scale(model.grads() + own_begin, clip, own_end - own_begin);
      adam.step(model.params(), model.grads(), m.lr, step - result.skipped_steps);
      if (opt.zero && dims.dp > 1) {
        zero_send.assign(size_t(shard), 0.f);
        std::copy(model.params() + own_begin, model.params() + own_end, zero_send.begin());
        zero_recv.resize(size_t(shard * dims.dp));
        pg.dp->all_gather(zero_send.data(), zero_recv.data(), size_t(shard), DType::f32);
        std::copy(zero_recv.begin(), zero_recv.begin() + total, model.params());
      }
    }
    result.losses.push_back(loss);
    m.skipped_total = result.skipped_steps;
    m.step_time_s = seconds_since(t0);
    m.tokens = opt.global_batch * cfg.seq_len;
    m.tokens_per_s = double(m.tokens) / m.step_time_s;
    m.mfu = flops_per_token * m.tokens_per_s / (opt.peak_tflops * 1e12);
    m.compute_s = timing.compute_s;
    m.comm_wait_s = timing.comm_wait_s;
    m.bubble_s = timing.bubble_s;
    // Bytes per group: the sum over the ranks of each group's payload this step (one
    // all-reduce; every rank has the same groups in the same order).
    const std::map<std::string, uint64_t> mine = pg.bytes_by_group();
    std::vector<uint64_t> bytes;
    for (const auto& [name, b] : mine)
      bytes.push_back(b);
    pg.world->all_reduce(bytes.data(), bytes.size(), ReduceOp::sum);
    size_t g = 0;
    for (const auto& [name, b] : mine)
      m.bytes_per_group[name] = bytes[g++];
    if (rank == 0)
      metrics.write(m);
    if (log && (step % opt.log_interval == 0 || step == opt.steps || step == 1)) {
      std::printf("%s\n", progress_line(m, seconds_since(t_start)).c_str());
      std::fflush(stdout);
    }
    if (end_of_step(step))
      break;
  }
  return result;
}

} // namespace glm3d
