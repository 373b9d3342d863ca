// glm3d eval --load CKPT --samples FILE.h5 --out OUT.h5: the forward pass of a checkpoint on
// given samples (the `glm3d data sample` format, or --synthetic --start K --count N), on any
// tp x pp x dp layout (a LoRA fine-tuning checkpoint: its base with the adapters, no dropout). Writes, in
// parallel HDF5 (each last-stage rank its own hyperslab):
//   logits       f32 [N, S, vocab]   (real vocabulary only)
//   loss         f64 [N]   mean cross-entropy over the sample's loss-mask positions (NaN if none)
//   loss_sum     f64 [N]   the sum over those positions;  loss_tokens  i64 [N]  their count
//   attributes: checkpoint, step, seq_len, vocab, mean_loss (sum of loss_sum / sum of loss_tokens:
//   the mean over every target token) and perplexity = exp(mean_loss); both printed too.
#include "core/check.h"
#include "core/output_path.h"
#include "data/h5_attr.h"
#include "data/h5_check.h"
#include "data/h5_format.h"
#include "data/sample_file.h"
#include "data/synthetic_task.h"
#include "launch/options.h"
#include "model/glm_model.h"
#include "parallel/agreement.h"
#include "parallel/mpi_check.h"
#include "parallel/process_groups.h"
#include "pipeline/executor.h"
#include "pipeline/partition.h"
#include "train/checkpoint.h"
#include "train/checkpoint_resume.h"
#include "train/finetune_adapter.h"
#include "train/model_stage.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>

namespace glm3d {

namespace {

std::string sample_file_tokenizer(const std::string& path) {
  auto lock = h5::library_lock();
  h5::Handle f(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
  return h5::has_attr(f.get(), "tokenizer_sha256") ? h5::read_attr_str(f.get(), "tokenizer_sha256") : "";
}

struct EvalOptions {
  std::string load, samples_path, out;
  bool synthetic = false;
  int64_t start = 0, count = 8, micro_batch = 1;
  int tp = 1, pp = 1, dp = 0;
};

// false: --help was printed.
bool parse_eval_options(const Args& args, const RunContext& ctx, EvalOptions& o) {
  po::options_description desc(
      "glm3d eval --load CKPT --samples FILE.h5 --out OUT.h5: forward pass, logits and "
      "per-sample loss");
  desc.add_options()                                                                                //
      ("load", po::value(&o.load), "checkpoint file or directory (its latest)")                     //
      ("samples", po::value(&o.samples_path), "samples file (glm3d data sample ... --out FILE.h5)") //
      ("synthetic", po::bool_switch(&o.synthetic),
       "the synthetic task's samples [start, start+count) "
       "(seed: the checkpoint's)")                                                                    //
      ("start", po::value(&o.start)->default_value(o.start), "first synthetic sample index")          //
      ("count", po::value(&o.count)->default_value(o.count), "number of synthetic samples")           //
      ("out", po::value(&o.out), "output HDF5 file")                                                  //
      ("micro-batch", po::value(&o.micro_batch)->default_value(o.micro_batch), "samples per forward") //
      ("tp", po::value(&o.tp)->default_value(o.tp), "tensor-parallel degree")                         //
      ("pp", po::value(&o.pp)->default_value(o.pp), "pipeline-parallel degree")                       //
      ("dp", po::value(&o.dp)->default_value(o.dp), "data-parallel degree (0: world / (tp*pp))");
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return false;
  GLM3D_USAGE_CHECK(!o.load.empty() && !o.out.empty()) << "glm3d eval needs --load CKPT and --out OUT.h5";
  GLM3D_USAGE_CHECK(o.synthetic != !o.samples_path.empty())
      << "give exactly one of --samples FILE or --synthetic";
  GLM3D_USAGE_CHECK(o.micro_batch > 0 && o.count > 0 && o.start >= 0)
      << "--micro-batch, --count must be positive";
  run_on_root(ctx.world, 0, [&] { check_output_file("--out", o.out); });
  return true;
}

// Every token, and every target at a loss-mask position, inside the checkpoint's vocabulary.
void check_sample_ids(const std::vector<Sample>& samples, int64_t vocab) {
  for (const Sample& s : samples)
    for (size_t i = 0; i < s.tokens.size(); ++i) {
      GLM3D_USAGE_CHECK(s.tokens[i] >= 0 && s.tokens[i] < vocab)
          << "sample token " << s.tokens[i] << " is outside the checkpoint's vocabulary of " << vocab;
      GLM3D_USAGE_CHECK(!s.loss_mask[i] || (s.targets[i] >= 0 && s.targets[i] < vocab))
          << "sample target " << s.targets[i] << " (at a loss_mask position) is outside the checkpoint's "
          << "vocabulary of " << vocab;
    }
}

// The samples to evaluate: the synthetic task's, or a sample file made with the checkpoint's
// tokenizer.
std::vector<Sample> eval_samples(const EvalOptions& o, const ResumeFrom& ck) {
  const ModelConfig& cfg = ck.meta.cfg;
  std::vector<Sample> samples;
  if (o.synthetic) {
    check_resume(ck, cfg, "");
    SyntheticTask task(cfg.seq_len, cfg.vocab, ck.meta.seed);
    for (int64_t k = o.start; k < o.start + o.count; ++k)
      samples.push_back(task.get(k));
  } else {
    samples = read_sample_file(o.samples_path);
    const std::string have = sample_file_tokenizer(o.samples_path);
    GLM3D_USAGE_CHECK(ck.meta.tokenizer_sha256.empty() || have.empty() || have == ck.meta.tokenizer_sha256)
        << "checkpoint " << ck.path << ": field tokenizer_sha256 is " << ck.meta.tokenizer_sha256
        << ", but sample file " << o.samples_path << " was made with tokenizer sha256 " << have;
  }
  GLM3D_USAGE_CHECK(!samples.empty()) << "no samples to evaluate";
  check_sample_ids(samples, cfg.vocab);
  return samples;
}

// This rank's stage of the checkpoint's model (f32, forward only), its weights loaded.
std::unique_ptr<GlmModel<float>> load_eval_model(const ResumeFrom& ck, const ParallelDims& dims,
                                                 ProcessGroups& pg, MPI_Comm world) {
  const ModelConfig& cfg = ck.meta.cfg;
  StagePlan plan;
  plan.tp = dims.tp;
  plan.tp_rank = pg.tp_rank();
  for (const StageLayers& s : chunks_of_rank(int(cfg.num_layers), dims.pp, pg.pp_rank(), 1, {}))
    plan.chunks.emplace_back(s.first_layer, s.num_layers);
  plan.has_embedding = pg.is_first_stage() || pg.is_last_stage();
  ExecPolicy exec; // f32; flash attention where the dense kernel cannot read the rows (key/value groups)
  exec.attention = parse_attention("auto", exec.precision, !cfg.packed_qkv());
  auto model = std::make_unique<GlmModel<float>>(cfg, plan, *pg.tp, exec, 0, /*base_grads=*/false);
  std::fill(model->params(), model->params() + model->num_params(), 0.f);
  if (ck.meta.kind == "finetune") { // adapters (LoRA, prefix): their base's weights, the adapters on top
    load_finetune_for_eval(*model, ck, pg, world);
  } else {
    const ShardView view{&model->table(),    pg.tp_rank(), pg.is_first_stage(), pg.dp_rank(), false, 0,
                         model->num_params()};
    std::vector<TensorPiece> pieces = shard_pieces(view, cfg, model->params(), nullptr, nullptr);
    load_checkpoint(ck.path, world, ck.meta, pieces);
  }
  return model;
}

// What one rank evaluates: samples [s0, s0 + n) of its data-parallel replica, vocabulary columns
// [v0, v0 + vl_real) of the padded slice Vl of its tp rank.
struct EvalSlice {
  int64_t s0 = 0, n = 0, S = 0, Vl = 0, v0 = 0, vl_real = 0;
  bool last = false; // last pipeline stage: holds logits and losses
};

// The logits [n, S, Vl] of the slice's samples (on the last stage), in micro-batches.
std::vector<float> forward_logits(GlmModel<float>& model, const std::vector<Sample>& samples,
                                  const EvalSlice& e, int64_t micro_batch, const ParallelDims& dims,
                                  ProcessGroups& pg) {
  const int64_t S = e.S, Vl = e.Vl;
  std::vector<MicroBatch> mbs;
  for (int64_t i = e.s0; i < e.s0 + e.n; i += micro_batch)
    mbs.push_back(stack_samples(
        std::vector<Sample>(samples.begin() + i, samples.begin() + std::min(e.s0 + e.n, i + micro_batch))));
  std::vector<float> logits(size_t(e.n * S * Vl)); // [n, S, Vl] this rank's vocabulary slice
  model.on_logits = [&](int mb, const float* l) {
    std::copy(l, l + mbs[size_t(mb)].B * S * Vl, logits.begin() + ptrdiff_t(mb * micro_batch * S * Vl));
  };
  model.set_batch(&mbs, 1.0);
  if (!mbs.empty()) {
    if (dims.pp == 1) {
      for (int m = 0; m < int(mbs.size()); ++m)
        model.forward(0, m, nullptr, nullptr);
    } else {
      ModelStage stage(model);
      PipelineExecutor exec(*pg.pp, 1);
      exec.run(build_schedule(ScheduleKind::gpipe, dims.pp, pg.pp_rank(), int(mbs.size()), 1, true), stage);
    }
  }
  model.set_batch(&mbs, 1.0); // frees the activations
  model.on_logits = nullptr;
  return logits;
}

struct SampleLosses {
  std::vector<double> sum, mean; // [n] over the sample's loss-mask positions (mean NaN if none)
  std::vector<int64_t> tokens;   // [n] loss-mask positions
};

// Per-sample loss over the loss mask (last stage), in f64 across the vocabulary slices of the tp
// group: max, sum of exp and target logit reduced over tp.
SampleLosses sample_losses(const std::vector<float>& logits, const std::vector<Sample>& samples,
                           const EvalSlice& e, Communicator& tp) {
  const int64_t n = e.n, S = e.S, rows = n * S;
  SampleLosses r{std::vector<double>(size_t(n), 0.0), std::vector<double>(size_t(n), 0.0),
                 std::vector<int64_t>(size_t(n), 0)};
  if (!e.last)
    return r;
  std::vector<double> mx(static_cast<size_t>(rows)), se(static_cast<size_t>(rows)),
      tgt(static_cast<size_t>(rows), 0.0);
  for (int64_t t = 0; t < rows; ++t) {
    const float* row = logits.data() + t * e.Vl;
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < e.vl_real; ++c)
      m = std::max(m, double(row[c]));
    mx[size_t(t)] = m;
  }
  tp.all_reduce(mx.data(), mx.size(), ReduceOp::max);
  for (int64_t t = 0; t < rows; ++t) {
    const float* row = logits.data() + t * e.Vl;
    double s = 0;
    for (int64_t c = 0; c < e.vl_real; ++c)
      s += std::exp(double(row[c]) - mx[size_t(t)]);
    se[size_t(t)] = s;
    const int64_t target = samples[size_t(e.s0 + t / S)].targets[size_t(t % S)];
    if (target >= e.v0 && target < e.v0 + e.vl_real)
      tgt[size_t(t)] = double(row[target - e.v0]);
  }
  tp.all_reduce(se.data(), se.size(), ReduceOp::sum);
  tp.all_reduce(tgt.data(), tgt.size(), ReduceOp::sum);
  for (int64_t t = 0; t < rows; ++t) {
    if (!samples[size_t(e.s0 + t / S)].loss_mask[size_t(t % S)])
      continue;
    r.sum[size_t(t / S)] += std::log(se[size_t(t)]) + mx[size_t(t)] - tgt[size_t(t)];
    ++r.tokens[size_t(t / S)];
  }
  for (int64_t i = 0; i < n; ++i)
    r.mean[size_t(i)] = r.tokens[size_t(i)] ? r.sum[size_t(i)] / double(r.tokens[size_t(i)])
                                            : std::numeric_limits<double>::quiet_NaN();
  return r;
}

struct EvalTotals {
  int64_t samples = 0, seq_len = 0;
  double loss_sum = 0, tokens = 0; // over every target token of every sample
  double mean_loss() const {
    return tokens > 0 ? loss_sum / tokens : std::numeric_limits<double>::quiet_NaN();
  }
};

// out.tmp in parallel HDF5: the last stage's ranks write their samples' rows and vocabulary
// columns of the logits, tp rank 0 of each the per-sample losses.
void write_eval_file(const std::string& tmp, const ResumeFrom& ck, const EvalSlice& e,
                     const EvalTotals& totals, const std::vector<float>& logits, const SampleLosses& losses,
                     bool writes_losses, MPI_Comm world) {
  auto lock = h5::library_lock();
  h5::Handle fapl(H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
  H5_CHECK(H5Pset_fapl_mpio(fapl.get(), world, MPI_INFO_NULL));
  h5::set_checksummed_format(fapl.get());
  h5::Handle f;
  try {
    f = h5::Handle(H5_CHECK(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get())), H5Fclose);
  } catch (const Error& err) {
    GLM3D_USAGE_FAIL() << "cannot create " << tmp << ": " << err.what();
  }
  const int64_t N = totals.samples, S = e.S, vocab = ck.meta.cfg.vocab;
  h5::write_attr_str(f.get(), "checkpoint", ck.path);
  h5::write_attr_i64(f.get(), "step", ck.meta.step);
  h5::write_attr_i64(f.get(), "seq_len", S);
  h5::write_attr_i64(f.get(), "vocab", vocab);
  h5::write_attr_f64(f.get(), "mean_loss", totals.mean_loss());
  h5::write_attr_f64(f.get(), "perplexity", std::exp(totals.mean_loss()));
  const hsize_t ldims[3] = {hsize_t(N), hsize_t(S), hsize_t(vocab)}, vdims[1] = {hsize_t(N)};
  h5::Handle lspace(H5_CHECK(H5Screate_simple(3, ldims, nullptr)), H5Sclose);
  h5::Handle vspace(H5_CHECK(H5Screate_simple(1, vdims, nullptr)), H5Sclose);
  auto create = [&](const char* name, hid_t type, hid_t space) {
    return h5::Handle(H5_CHECK(H5Dcreate2(f.get(), name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
                      H5Dclose);
  };
  h5::Handle dl = create("logits", H5T_IEEE_F32LE, lspace.get());
  h5::Handle dloss = create("loss", H5T_IEEE_F64LE, vspace.get());
  h5::Handle dsum = create("loss_sum", H5T_IEEE_F64LE, vspace.get());
  h5::Handle dtok = create("loss_tokens", H5T_STD_I64LE, vspace.get());
  if (e.last && e.n > 0 && e.vl_real > 0) {
    const hsize_t fstart[3] = {hsize_t(e.s0), 0, hsize_t(e.v0)},
                  fcount[3] = {hsize_t(e.n), hsize_t(S), hsize_t(e.vl_real)};
    h5::Handle fs(H5_CHECK(H5Dget_space(dl.get())), H5Sclose);
    H5_CHECK(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, fstart, nullptr, fcount, nullptr));
    const hsize_t mdims[2] = {hsize_t(e.n * S), hsize_t(e.Vl)}, mstart[2] = {0, 0},
                  mcount[2] = {hsize_t(e.n * S), hsize_t(e.vl_real)};
    h5::Handle ms(H5_CHECK(H5Screate_simple(2, mdims, nullptr)), H5Sclose);
    H5_CHECK(H5Sselect_hyperslab(ms.get(), H5S_SELECT_SET, mstart, nullptr, mcount, nullptr));
    H5_CHECK(H5Dwrite(dl.get(), H5T_NATIVE_FLOAT, ms.get(), fs.get(), H5P_DEFAULT, logits.data()));
  }
  if (writes_losses && e.n > 0) {
    const hsize_t vstart[1] = {hsize_t(e.s0)}, vcount[1] = {hsize_t(e.n)};
    auto write_vec = [&](const h5::Handle& d, hid_t mtype, const void* data) {
      h5::Handle fs(H5_CHECK(H5Dget_space(d.get())), H5Sclose);
      H5_CHECK(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, vstart, nullptr, vcount, nullptr));
      h5::Handle ms(H5_CHECK(H5Screate_simple(1, vcount, nullptr)), H5Sclose);
      H5_CHECK(H5Dwrite(d.get(), mtype, ms.get(), fs.get(), H5P_DEFAULT, data));
    };
    write_vec(dloss, H5T_NATIVE_DOUBLE, losses.mean.data());
    write_vec(dsum, H5T_NATIVE_DOUBLE, losses.sum.data());
    write_vec(dtok, H5T_NATIVE_INT64, losses.tokens.data());
  }
}

void print_eval(const EvalTotals& t, const ResumeFrom& ck, const std::string& out) {
  std::printf("eval: %lld samples of length %lld, step %lld checkpoint -> %s\n", (long long)t.samples,
              (long long)t.seq_len, (long long)ck.meta.step, out.c_str());
  if (t.tokens > 0)
    std::printf("eval: mean loss %.6f over %.0f target tokens, perplexity %.4f\n", t.mean_loss(), t.tokens,
                std::exp(t.mean_loss()));
  else
    std::printf("eval: no target tokens (loss_mask is 0 everywhere): no mean loss\n");
}

} // namespace

int cmd_eval(const Args& args, const RunContext& ctx) {
  EvalOptions o;
  if (!parse_eval_options(args, ctx, o))
    return 0; // --help was printed
  const ResumeFrom ck = open_resume(o.load);
  const ModelConfig& cfg = ck.meta.cfg;
  const std::vector<Sample> samples = eval_samples(o, ck);
  const int64_t N = int64_t(samples.size());

  const ParallelDims dims = ParallelDims::make(ctx.world_size, o.tp, o.pp, o.dp);
  validate_for_model(dims, cfg.num_layers, cfg.num_heads, cfg.ffn_hidden, {});
  ProcessGroups pg = ProcessGroups::create(ctx.world, dims);
  const auto model = load_eval_model(ck, dims, pg, ctx.world);

  EvalSlice e; // this data-parallel replica's samples [s0, s0 + n)
  e.s0 = N * pg.dp_rank() / dims.dp;
  e.n = N * (pg.dp_rank() + 1) / dims.dp - e.s0;
  e.S = int64_t(samples[0].tokens.size());
  e.Vl = model->table().padded_vocab() / dims.tp;
  e.v0 = int64_t(pg.tp_rank()) * e.Vl;
  e.vl_real = std::max<int64_t>(0, std::min(e.Vl, cfg.vocab - e.v0));
  e.last = pg.is_last_stage();
  const std::vector<float> logits = forward_logits(*model, samples, e, o.micro_batch, dims, pg);
  const SampleLosses losses = sample_losses(logits, samples, e, *pg.tp);

  // Each sample's sums live on one rank (last stage, tp rank 0 of its data-parallel replica).
  const bool writes_losses = e.last && pg.tp_rank() == 0;
  double total[2] = {0.0, 0.0}; // loss sum, target tokens
  for (int64_t i = 0; writes_losses && i < e.n; ++i)
    total[0] += losses.sum[size_t(i)], total[1] += double(losses.tokens[size_t(i)]);
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, total, 2, MPI_DOUBLE, MPI_SUM, ctx.world));
  const EvalTotals totals{N, e.S, total[0], total[1]};

  const std::string tmp = o.out + ".tmp";
  write_eval_file(tmp, ck, e, totals, logits, losses, writes_losses, ctx.world);
  MPI_CHECK(MPI_Barrier(ctx.world));
  if (ctx.rank == 0) {
    std::error_code ec;
    std::filesystem::rename(tmp, o.out, ec);
    GLM3D_USAGE_CHECK(!ec) << "cannot rename " << tmp << " to " << o.out << ": " << ec.message();
    print_eval(totals, ck, o.out);
  }
  return 0;
}

} // namespace glm3d
