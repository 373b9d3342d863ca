#include "train/train_job.h"
#include "train/ptuning_io.h"

#include "core/check.h"
#include "core/clock.h"
#include "core/cpu/convert.h"
#include "data/sft_source.h"
#include "data/sft_store.h"
#include "data/store_source.h"
#include "data/synthetic_task.h"
#include "model/memory_model.h"
#include "parallel/mpi_communicator.h"
#include "plan/layout.h"
#include "train/finetune_adapter.h"
#include "train/preflight.h"
#include "train/qlora_load.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

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
  GLM3D_USAGE_CHECK(!o.model.empty() || !o.load.empty() || !o.base.empty())
      << "--model is required without --load"
      << (o.adapters.method != FinetuneMethod::none ? " or --base" : "");
}

// The fine-tuning method and adapters: the options', or a resumed fine-tuning run's (an option
// that would change the adapters' shape is an error; alpha and dropout may change).
AdapterSpec resolve_adapters(const TrainOptions& o, const ResumeFrom& r) {
  const bool adapters_ckpt = r.continues_run() && r.meta.kind == "finetune";
  if (!adapters_ckpt)
    return o.adapters;
  const AdapterSpec& ck = r.meta.adapters;
  GLM3D_USAGE_CHECK(o.adapters.method != FinetuneMethod::none)
      << "checkpoint " << r.path << " holds " << to_string(ck.method)
      << " fine-tuning adapters: continue it with glm3d finetune";
  const auto keep = [&](const char* option, bool same) {
    GLM3D_USAGE_CHECK(!o.given.count(option) || same)
        << "--" << option << " differs from checkpoint " << r.path
        << "'s: a resumed run keeps its adapters' shape (start a new run to change it)";
  };
  const AdapterSpec& want = o.adapters;
  keep("method", want.method == ck.method);
  keep("lora-r", want.lora_r == ck.lora_r);
  keep("lora-targets", want.lora_targets == ck.lora_targets);
  keep("pre-seq-len", want.pre_seq_len == ck.pre_seq_len);
  keep("prefix-projection", want.prefix_projection == ck.prefix_projection);
  AdapterSpec a = ck;
  if (o.given.count("lora-alpha"))
    a.lora_alpha = want.lora_alpha;
  if (o.given.count("lora-dropout"))
    a.lora_dropout = want.lora_dropout;
  if (o.given.count("prefix-dropout"))
    a.prefix_dropout = want.prefix_dropout;
  return a;
}

// Fine-tuning: the pretrained model. Full fine-tuning starts a new run from its weights (as from
// imported weights); adapters read it into the frozen base (load_frozen_base).
void resolve_base(TrainJob& j) {
  const FinetuneMethod m = j.adapters.method;
  if (m == FinetuneMethod::none || (m == FinetuneMethod::full && j.resume.active()))
    return;
  const std::string path = !j.opt.base.empty() ? j.opt.base : j.resume.meta.base_checkpoint;
  if (path.empty() && j.opt.dry_run)
    return; // --model says what would be adapted
  GLM3D_USAGE_CHECK(!path.empty()) << "glm3d finetune needs --base CKPT (the model to adapt)";
  j.base = open_base(path);
  if (m == FinetuneMethod::full)
    j.resume = j.base;
}

// Settings, model config and data source (the data decide the vocabulary).
void resolve_run(TrainJob& j) {
  const TrainOptions& opt = j.opt;
  j.resume = open_resume(opt.load);
  // glm3d finetune --load CKPT of a model that is not this fine-tuning run's own checkpoint
  // (imported or pretrained weights): the model to adapt, as --base, and a new run.
  if (opt.adapters.method != FinetuneMethod::none && opt.base.empty() && j.resume.active() &&
      j.resume.meta.adapters.method == FinetuneMethod::none) {
    j.opt.base = j.resume.path;
    j.resume = ResumeFrom{};
  }
  j.adapters = resolve_adapters(opt, j.resume);
  resolve_base(j);
  const CheckpointMeta& has_cfg = j.resume.active() ? j.resume.meta : j.base.meta;
  j.cfg = opt.model.empty() ? has_cfg.cfg : load_model_config(opt.model);
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
    // The store's tokenizer decides the vocabulary, except for a checkpoint's model whose
    // vocabulary holds it: ChatGLM2/3's 65024 rows (padded_vocab_size) over their tokenizer's
    // 64794 / 64798 ids, whose logits the reference's loss covers too.
    const bool from_checkpoint = opt.model.empty() && (j.resume.active() || j.base.active());
    if (!from_checkpoint || j.source->vocab_size() > j.cfg.vocab)
      j.cfg.vocab = j.source->vocab_size();
  }
  validate(j.cfg);
  resolve_adapter_init(j); // --adapter: r, alpha, targets from its config
  // A reshard reads no data: the checkpoint's tokenizer stays the run's.
  j.tokenizer_sha256 = opt.save_only ? j.resume.meta.tokenizer_sha256 : j.source->tokenizer_hash();
  check_resume(j.resume, j.cfg, j.tokenizer_sha256);
  if (j.adapters.adapters())
    check_resume(j.base, j.cfg, j.tokenizer_sha256);
}

// Layout, schedule and process groups.
void build_layout(TrainJob& j) {
  const TrainOptions& opt = j.opt;
  const RunSettings& s = j.settings;
  j.dims = ParallelDims::make(j.world_size, opt.tp, opt.pp, opt.dp, opt.virtual_stages);
  validate_for_model(j.dims, j.cfg.num_layers, j.cfg.num_heads, j.cfg.ffn_hidden, opt.pp_layers);
  const int64_t groups = j.cfg.kv_heads();
  GLM3D_USAGE_CHECK(groups % j.dims.tp == 0 || j.dims.tp % groups == 0)
      << "impossible parallel layout " << j.dims.str() << ": " << groups << " key/value groups of "
      << j.cfg.name << " neither split over nor replicate evenly on tp " << j.dims.tp;
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
  // tp > key/value groups: each group's rows live on tp / groups ranks, which sum their gradients.
  if (j.dims.tp > groups) {
    const int share = int(j.dims.tp / groups);
    const int color = (j.pg.pp_rank() * j.dims.dp + j.pg.dp_rank()) * int(groups) + j.pg.tp_rank() / share;
    MPI_Comm c;
    MPI_Comm_split(j.world, color, j.rank, &c);
    j.kv_share = std::make_unique<MpiCommunicator>(c, "kv");
    j.kv_share->set_tracker(&j.tracker);
  }
}

// The estimate of this rank's bytes, from the memory model and this rank's schedule.
RankMemory estimate_memory(const TrainJob& j) {
  MemoryPolicy pol = memory_policy_of(j.exec, j.dims, j.opt.zero == 1, j.settings.micro_batch, j.cfg.seq_len,
                                      in_flight_of(j.schedule, j.dims, j.num_mb, j.pg.pp_rank()));
  pol.adapters = j.adapters;
  if (j.opt.synthetic) // the LM head's rows (model/head_rows.h) are known for the synthetic task only
    pol.head_rows = SyntheticTask::kTargetsPerSample * j.settings.micro_batch;
  return estimate_rank_memory(j.cfg, j.plan, pol);
}

// Model, optimizer and the LR schedule; initial weights (a resume overwrites them).
void build_model(TrainJob& j) {
  const TrainOptions& opt = j.opt;
  const RunSettings& s = j.settings;
  const ParamTable table = ParamTable::of_base(j.cfg, j.plan, j.exec.nf4_base);
  const bool base_trains = !j.adapters.adapters();
  j.model = std::make_unique<GlmModel<float>>(j.cfg, j.plan, *j.pg.tp, j.exec,
                                              DistributedOptimizer::padded_elems(table.total(), j.dims.dp),
                                              base_trains);
  j.model->embedding_grad_shrink = opt.embedding_grad_shrink;
  const bool frozen = j.adapters.adapters();
  if (frozen) // counter-based adapter init from the run's seed; the base comes from --base
    j.model->attach_adapters(
        j.adapters,
        DistributedOptimizer::padded_elems(ParamTable(j.cfg, j.plan, j.adapters).total(), j.dims.dp), s.seed);
  j.store = frozen ? j.model->adapter_store() : j.model->base_store();
  j.total = j.store.num_params();
  cpu::AdamWHyper hyper;
  hyper.beta1 = s.beta1;
  hyper.beta2 = s.beta2;
  hyper.eps = s.eps;
  hyper.weight_decay = s.weight_decay;
  j.optim = std::make_unique<DistributedOptimizer>(j.store, *j.pg.dp, opt.zero == 1, hyper);
  if (frozen)
    ; // attach_adapters initialised what trains
  else if (j.exec.bf16())
    j.optim->init_master(s.seed); // the master's range only, then published to every rank
  else
    j.model->init(s.seed);
  j.sched = LrSchedule{s.lr, s.min_lr, s.warmup_steps, s.decay_steps};
  j.shard_view = ShardView{j.store.table, j.pg.tp_rank(),   j.pg.is_first_stage(), j.pg.dp_rank(),
                           opt.zero == 1, j.optim->begin(), j.optim->end()};
}

// The frozen base's weights of this rank's share from --base: straight into f32 weights, or
// through an f32 staging buffer of at most k_base_staging_elems elements into bf16 weights
// (model/memory_model.h; every rank makes the same number of collective reads).
// GLM3D_TEST_BASE_CHUNK=N makes the chunks N elements, so tests cut tensors between reads.
void load_frozen_base(TrainJob& j) {
  const char* test_chunk = std::getenv("GLM3D_TEST_BASE_CHUNK");
  const int64_t k_base_chunk =
      test_chunk ? std::max<int64_t>(1, std::atoll(test_chunk)) : k_base_staging_elems;
  const ParamStore b = j.model->base_store();
  const int64_t total = b.table->total();
  const int64_t chunk = b.params ? std::max<int64_t>(total, 1) : k_base_chunk;
  int64_t chunks = (total + chunk - 1) / chunk;
  MPI_Allreduce(MPI_IN_PLACE, &chunks, 1, MPI_INT64_T, MPI_MAX, j.world);
  std::vector<float> staging(b.params ? 0 : size_t(std::min(chunk, total)));
  const auto t0 = Clock::now();
  ChecksumTally tally; // a tensor may straddle two chunks
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t lo = std::min(c * chunk, total), hi = std::min(lo + chunk, total);
    std::fill(staging.begin(), staging.end(), 0.f);
    const ShardView v{b.table, j.pg.tp_rank(), j.pg.is_first_stage(), j.pg.dp_rank(), false, lo, hi};
    std::vector<TensorPiece> pieces =
        shard_pieces(v, j.cfg, b.params ? b.params + lo : staging.data(), nullptr, nullptr);
    load_checkpoint(j.base.path, j.world, j.base.meta, pieces, &tally);
    if (!b.params)
      cpu::to_bf16(staging.data(), b.weights_bf16 + lo, hi - lo);
  }
  tally.verify(j.base.path);
  b.weights_changed();
  if (j.exec.nf4_base) // QLoRA: the layer matrices in NF4 (train/qlora_load.h)
    load_nf4_base(*j.model, j.base.path, j.base.meta, j.world, j.pg.tp_rank() == 0 && j.pg.dp_rank() == 0);
  if (j.log)
    std::printf("base model %s loaded (frozen, %s) in %.2f s\n", j.base.path.c_str(),
                to_string(j.exec.precision).c_str(), seconds_since(t0));
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

// Parameters of the whole model (the checkpoint's tensors: the real vocabulary), and of them the
// ones that train.
std::pair<int64_t, int64_t> trainable_and_all(const ModelConfig& cfg, const AdapterSpec& a) {
  CheckpointMeta m;
  m.cfg = cfg;
  int64_t all = 0, adapters = 0;
  for (const CkptTensor& t : checkpoint_tensors(m))
    all += t.rows * t.cols;
  if (!a.adapters())
    return {all, all};
  m.kind = "finetune";
  m.adapters = a;
  for (const CkptTensor& t : checkpoint_tensors(m))
    adapters += t.rows * t.cols;
  return {adapters, all + adapters};
}

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > 0; i -= 3)
    s.insert(size_t(i), ",");
  return s;
}

// --dry-run: what would train (PEFT's print_trainable_parameters line) and the largest rank's
// planned bytes, with the same estimate the start-up check uses.
void print_dry_run(const TrainJob& j) {
  int64_t v[7] = {j.memory.weights,   j.memory.grads, j.memory.optimizer, j.memory.activations,
                  j.memory.workspace, j.memory.comm,  j.memory.total()};
  MPI_Allreduce(MPI_IN_PLACE, v, 7, MPI_INT64_T, MPI_MAX, j.world);
  if (j.rank != 0)
    return;
  const auto [trainable, all] = trainable_and_all(j.cfg, j.adapters);
  std::printf("trainable params: %s || all params: %s || trainable%%: %.4f\n", with_commas(trainable).c_str(),
              with_commas(all).c_str(), 100.0 * double(trainable) / double(all));
  std::printf("method %s on %s, layout %s, %s: largest rank needs about %s (weights %s, gradients %s, "
              "optimizer %s, activations %s, workspace %s, pipeline buffers %s)\n",
              to_string(j.adapters.method).c_str(), j.cfg.name.c_str(), j.dims.str().c_str(),
              to_string(j.exec.precision).c_str(), format_bytes(double(v[6])).c_str(),
              format_bytes(double(v[0])).c_str(), format_bytes(double(v[1])).c_str(),
              format_bytes(double(v[2])).c_str(), format_bytes(double(v[3])).c_str(),
              format_bytes(double(v[4])).c_str(), format_bytes(double(v[5])).c_str());
  std::fflush(stdout);
}

} // namespace

void reduce_layer_grad_parts(TrainJob& j, int layer) {
  for (const ParamInfo& p : j.store.table->params()) {
    if (p.layer != layer)
      continue;
    if (p.kv_share() > 1 && j.kv_share) {
      const auto [b, e] = p.kv_range();
      j.kv_share->all_reduce(j.store.grads + p.offset + b, size_t(e - b), ReduceOp::sum);
    }
    if (p.grad_sum == GradSum::tp && j.dims.tp > 1)
      j.pg.tp->all_reduce(j.store.grads + p.offset, size_t(p.numel()), ReduceOp::sum);
  }
}

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
  resolve_run(j);
  j.exec.nf4_base = j.adapters.method == FinetuneMethod::qlora;
  j.exec.attention = parse_attention(opt.attention, j.exec.precision, !j.cfg.packed_qkv());
  GLM3D_USAGE_CHECK(!opt.save_only || j.resume.continues_run())
      << "glm3d ckpt reshard needs a training checkpoint with optimizer state (--load)";
  if (j.resume.continues_run() && opt.steps <= j.resume.meta.step && !opt.save_only)
    return job; // nothing to do: the trainer says so
  build_layout(j);
  check_output_paths(opt, j.resume.continues_run(), world);
  j.memory = estimate_memory(j);
  j.total_trained = trainable_and_all(j.cfg, j.adapters).first;
  if (opt.dry_run) {
    print_dry_run(j);
    return job; // no model: the trainer stops here
  }
  if (!opt.skip_memory_check)
    check_memory_fits(j.memory, world);
  build_model(j);
  if (j.adapters.adapters())
    load_frozen_base(j);
  load_adapter_init(j);
  load_resume(j);
  load_ptuning_init(j);
  j.reducer = std::make_unique<GradReducer>(*j.store.table, *j.pg.dp, j.store.grads,
                                            std::max<int64_t>(1, int64_t(opt.bucket_mb * 1024 * 1024 / 4)));
  // When a layer's gradients are final (its last micro-batch): the parts summed over the ranks
  // holding them, then (without ZeRO-1) that layer's data-parallel bucket started.
  j.model->on_layer_backward_done = [&j](int l, int mb) {
    if (mb == j.num_mb - 1)
      reduce_layer_grad_parts(j, l);
    if (!j.opt.zero)
      j.reducer->on_layer_backward_done(l, mb);
  };
  j.runner = std::make_unique<StepRunner>(*j.model, j.pg, j.schedule, j.num_mb);
  j.metrics = std::make_unique<MetricsWriter>(j.rank == 0 ? opt.metrics_file : "", j.resume.continues_run());
  j.flops_per_token =
      j.adapters.adapters() ? frozen_training_flops_per_token(j.cfg) : training_flops_per_token(j.cfg);
  j.peak = job_peak_flops(opt.peak_tflops, j.exec.precision, world);
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
  meta.adapters.method = j.adapters.method; // full: a whole model, kind train, marked as fine-tuned
  if (j.adapters.adapters()) {              // the adapters only; the base stays where it is
    meta.kind = "finetune";
    meta.adapters = j.adapters;
    meta.base_checkpoint = j.base.path;
  }
  const auto t0 = Clock::now();
  const std::string path =
      save_checkpoint(j.opt.save_dir, j.opt.keep, j.world, meta,
                      shard_pieces(j.shard_view, j.cfg, j.optim->master(), j.optim->adam().m().data(),
                                   j.optim->adam().v().data()));
  save_ptuning_export(j);
  if (j.log) {
    std::printf("saved %s (%.2f s)\n", path.c_str(), seconds_since(t0));
    std::fflush(stdout);
  }
  write_peft_of_save(j, path);
}

} // namespace glm3d
