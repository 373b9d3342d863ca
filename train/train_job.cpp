#include "train/train_job.h"

#include "core/check.h"
#include "core/clock.h"
#include "data/sft_source.h"
#include "data/sft_store.h"
#include "data/synthetic_task.h"
#include "plan/layout.h"
#include "train/preflight.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

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
  GLM3D_USAGE_CHECK(o.bucket_mb > 0 && std::isfinite(o.bucket_mb))
      << "--bucket-mb must be positive, got " << o.bucket_mb;
  GLM3D_USAGE_CHECK(o.max_skipped > 0) << "--max-skipped must be positive, got " << o.max_skipped;
  GLM3D_USAGE_CHECK(o.hang_timeout >= 0)
      << "--hang-timeout must be >= 0 seconds (0: off), got " << o.hang_timeout;
  GLM3D_USAGE_CHECK(o.embedding_grad_shrink > 0 && o.embedding_grad_shrink <= 1)
      << "--embedding-grad-shrink must be in (0, 1], got " << o.embedding_grad_shrink;
  GLM3D_USAGE_CHECK(o.save_interval >= 0 && o.keep >= 0) << "--save-interval and --keep must be >= 0";
  GLM3D_USAGE_CHECK(o.check_replicas_interval >= 0)
      << "--check-replicas-interval must be >= 0, got " << o.check_replicas_interval;
  GLM3D_USAGE_CHECK(!o.model.empty() || !o.load.empty()) << "--model is required without --load";
}

// Settings, model config and data source (the data decide the vocabulary).
void resolve_run(TrainJob& j) {
  const TrainOptions& opt = j.opt;
  j.resume = open_resume(opt.load);
  j.cfg = opt.model.empty() ? j.resume.meta.cfg : load_model_config(opt.model);
  if (opt.seq_len > 0)
    j.cfg.seq_len = opt.seq_len;
  const ResolvedSettings rs =
      resolve_settings(opt, j.resume.continues_run() ? &j.resume.meta : nullptr, j.cfg.lr);
  j.settings = rs.s;
  if (j.rank == 0 && !j.resume.warning.empty())
    std::fprintf(stderr, "%s\n", j.resume.warning.c_str());
  if (j.log) {
    for (const auto& line : rs.overrides)
      std::printf("%s\n", line.c_str());
    for (const auto& line : rs.notes)
      std::printf("%s\n", line.c_str());
  }
  if (opt.synthetic) {
    j.source = std::make_unique<SyntheticTask>(j.cfg.seq_len, j.cfg.vocab, j.settings.seed);
  } else {
    if (opt.seq_len == 0 && is_sft_store(opt.data_dir))
      j.cfg.seq_len = sft_store_seq_len(opt.data_dir); // an SFT store's examples set the length
    j.source = open_training_source(opt.data_dir, j.cfg.seq_len, j.settings.seed, CollatorOptions{});
    j.cfg.vocab = j.source->vocab_size(); // the store's tokenizer decides the vocabulary
  }
  validate(j.cfg);
  // A reshard reads no data: the checkpoint's tokenizer stays the run's.
  j.tokenizer_sha256 = opt.save_only ? j.resume.meta.tokenizer_sha256 : j.source->tokenizer_hash();
  check_resume(j.resume, j.cfg, j.tokenizer_sha256);
}

// Layout, schedule and process groups.
void build_layout(TrainJob& j) {
  const TrainOptions& opt = j.opt;
  const RunSettings& s = j.settings;
  j.dims = ParallelDims::make(j.world_size, opt.tp, opt.pp, opt.dp, opt.virtual_stages);
  validate_for_model(j.dims, j.cfg.num_layers, j.cfg.num_heads, j.cfg.ffn_hidden, opt.pp_layers);
  GLM3D_USAGE_CHECK(s.global_batch % (s.micro_batch * j.dims.dp) == 0)
      << "--global-batch " << s.global_batch << " must be a multiple of micro-batch " << s.micro_batch
      << " x dp " << j.dims.dp;
  j.num_mb = int(s.global_batch / (s.micro_batch * j.dims.dp));
  j.schedule = parse_schedule(opt.schedule);
  // Validates the (schedule, pp, micro-batches, virtual stages) combination up front.
  if (j.dims.pp > 1)
    build_schedule(j.schedule, j.dims.pp, 0, j.num_mb, j.dims.virtual_stages);
  else
    GLM3D_USAGE_CHECK(j.dims.virtual_stages == 1) << "--virtual-stages needs --pp > 1";
  j.pg = ProcessGroups::create(j.world, j.dims);
  j.skip_iters = parse_iter_ranges(opt.skip_iters, "--skip-iters");
  j.faults = parse_fault_plan(opt.inject_fault);
  for (auto* c : {&j.pg.world, &j.pg.tp, &j.pg.dp, &j.pg.pp, &j.pg.embedding, &j.pg.model_parallel})
    if (*c)
      (*c)->set_tracker(&j.tracker);
  j.watchdog = std::make_unique<Watchdog>(opt.hang_timeout, j.rank, j.tracker);
  j.plan = stage_plan_of(j.cfg, j.dims, j.pg.pp_rank(), j.pg.tp_rank(), opt.pp_layers);
}

// The estimate of this rank's bytes, from the memory model and this rank's schedule.
RankMemory estimate_memory(const TrainJob& j) {
  const MemoryPolicy pol =
      memory_policy_of(j.exec, j.dims, j.opt.zero == 1, j.settings.micro_batch, j.cfg.seq_len,
                       in_flight_of(j.schedule, j.dims, j.num_mb, j.pg.pp_rank()));
  return estimate_rank_memory(j.cfg, j.plan, pol);
}

// Model, optimizer and the LR schedule; initial weights (a resume overwrites them).
void build_model(TrainJob& j) {
  const TrainOptions& opt = j.opt;
  const RunSettings& s = j.settings;
  const ParamTable table(j.cfg, j.plan);
  j.model = std::make_unique<GlmModel<float>>(j.cfg, j.plan, *j.pg.tp, j.exec,
                                              DistributedOptimizer::padded_elems(table.total(), j.dims.dp));
  j.model->embedding_grad_shrink = opt.embedding_grad_shrink;
  j.total = j.model->num_params();
  cpu::AdamWHyper hyper;
  hyper.beta1 = s.beta1;
  hyper.beta2 = s.beta2;
  hyper.eps = s.eps;
  hyper.weight_decay = s.weight_decay;
  j.optim = std::make_unique<DistributedOptimizer>(*j.model, *j.pg.dp, opt.zero == 1, hyper);
  if (j.exec.bf16())
    j.optim->init_master(s.seed); // the master's range only, then published to every rank
  else
    j.model->init(s.seed);
  j.sched = LrSchedule{s.lr, s.min_lr, s.warmup_steps, s.decay_steps};
  j.shard_view = ShardView{&j.model->table(), j.pg.tp_rank(),   j.pg.is_first_stage(), j.pg.dp_rank(),
                           opt.zero == 1,     j.optim->begin(), j.optim->end()};
}

// Resume: master weights (padded vocabulary rows zero) and optimizer state of this rank's range,
// then published to the compute weights; the position in the run.
void load_resume(TrainJob& j) {
  if (!j.resume.active())
    return;
  const ResumeFrom& r = j.resume;
  const bool with_adam = r.continues_run() && r.meta.has_optimizer_state;
  DistributedOptimizer& o = *j.optim;
  std::fill(o.master(), o.master() + (o.end() - o.begin()), 0.f);
  std::vector<TensorPiece> pieces =
      shard_pieces(j.shard_view, j.cfg, o.master(), with_adam ? o.adam().m().data() : nullptr,
                   with_adam ? o.adam().v().data() : nullptr);
  const auto t0 = Clock::now();
  load_checkpoint(r.path, j.world, r.meta, pieces);
  o.publish();
  if (r.continues_run()) {
    j.start_step = r.meta.step;
    j.next_sample = r.meta.next_sample;
    j.skipped_steps = r.meta.skipped_steps;
  }
  if (j.log) {
    const ParallelDims was =
        ParallelDims::make(r.meta.tp * r.meta.pp * r.meta.dp, r.meta.tp, r.meta.pp, r.meta.dp);
    std::printf("resumed from %s (step %lld, written at %s) in %.2f s\n", r.path.c_str(),
                (long long)j.start_step, was.str().c_str(), seconds_since(t0));
  }
}

} // namespace

std::unique_ptr<TrainJob> make_train_job(const TrainOptions& opt, MPI_Comm world) {
  check_options(opt);
  auto job = std::make_unique<TrainJob>();
  TrainJob& j = *job;
  j.opt = opt;
  j.world = world;
  MPI_Comm_rank(world, &j.rank);
  MPI_Comm_size(world, &j.world_size);
  j.log = j.rank == 0 && !opt.quiet;
  j.exec.precision = parse_precision(opt.precision);
  j.exec.recompute = parse_recompute(opt.recompute);
  j.exec.attention = parse_attention(opt.attention, j.exec.precision);
  resolve_run(j);
  GLM3D_USAGE_CHECK(!opt.save_only || j.resume.continues_run())
      << "glm3d ckpt reshard needs a training checkpoint with optimizer state (--load)";
  if (j.resume.continues_run() && opt.steps <= j.resume.meta.step && !opt.save_only)
    return job; // nothing to do: the trainer says so
  build_layout(j);
  check_output_paths(opt, j.resume.continues_run(), world);
  j.memory = estimate_memory(j);
  if (!opt.skip_memory_check)
    check_memory_fits(j.memory, world);
  build_model(j);
  load_resume(j);
  j.reducer = std::make_unique<GradReducer>(j.model->table(), *j.pg.dp, j.model->grads(),
                                            std::max<int64_t>(1, int64_t(opt.bucket_mb * 1024 * 1024 / 4)));
  if (!opt.zero)
    j.model->on_layer_backward_done = [&j](int l, int mb) { j.reducer->on_layer_backward_done(l, mb); };
  j.runner = std::make_unique<StepRunner>(*j.model, j.pg, j.schedule, j.num_mb);
  j.metrics = std::make_unique<MetricsWriter>(j.rank == 0 ? opt.metrics_file : "", j.resume.continues_run());
  j.flops_per_token = training_flops_per_token(j.cfg);
  return job;
}

void save_train_checkpoint(TrainJob& j, int64_t step) {
  CheckpointMeta meta;
  const RunSettings& s = j.settings;
  meta.cfg = j.cfg;
  meta.step = step;
  meta.skipped_steps = j.skipped_steps;
  meta.next_sample = j.next_sample;
  meta.global_batch = s.global_batch;
  meta.micro_batch = s.micro_batch;
  meta.seed = s.seed;
  meta.lr_max = j.sched.max_lr;
  meta.lr_min = j.sched.min_lr;
  meta.warmup_steps = j.sched.warmup_steps;
  meta.decay_steps = j.sched.decay_steps;
  meta.beta1 = s.beta1;
  meta.beta2 = s.beta2;
  meta.eps = s.eps;
  meta.weight_decay = s.weight_decay;
  meta.clip_grad = s.clip_grad;
  meta.has_optimizer_state = true;
  meta.tp = j.dims.tp;
  meta.pp = j.dims.pp;
  meta.dp = j.dims.dp;
  meta.virtual_stages = j.dims.virtual_stages;
  meta.zero = j.opt.zero;
  meta.tokenizer_sha256 = j.tokenizer_sha256;
  const auto t0 = Clock::now();
  const std::string path =
      save_checkpoint(j.opt.save_dir, j.opt.keep, j.world, meta,
                      shard_pieces(j.shard_view, j.cfg, j.optim->master(), j.optim->adam().m().data(),
                                   j.optim->adam().v().data()));
  if (j.log) {
    std::printf("saved %s (%.2f s)\n", path.c_str(), seconds_since(t0));
    std::fflush(stdout);
  }
}

} // namespace glm3d
