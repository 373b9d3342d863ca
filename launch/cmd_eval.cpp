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

namespace glm3d {

namespace {

std::string sample_file_tokenizer(const std::string& path) {
  auto lock = h5::library_lock();
  h5::Handle f(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
  return h5::has_attr(f.get(), "tokenizer_sha256") ? h5::read_attr_str(f.get(), "tokenizer_sha256") : "";
}

} // namespace

int cmd_eval(const Args& args, const RunContext& ctx) {
  std::string load, samples_path, out;
  bool synthetic = false;
  int64_t start = 0, count = 8, micro_batch = 1;
  int tp = 1, pp = 1, dp = 0;
  po::options_description desc(
      "glm3d eval --load CKPT --samples FILE.h5 --out OUT.h5: forward pass, logits and "
      "per-sample loss");
  desc.add_options()                                                                              //
      ("load", po::value(&load), "checkpoint file or directory (its latest)")                     //
      ("samples", po::value(&samples_path), "samples file (glm3d data sample ... --out FILE.h5)") //
      ("synthetic", po::bool_switch(&synthetic),
       "the synthetic task's samples [start, start+count) "
       "(seed: the checkpoint's)")                                                                //
      ("start", po::value(&start)->default_value(start), "first synthetic sample index")          //
      ("count", po::value(&count)->default_value(count), "number of synthetic samples")           //
      ("out", po::value(&out), "output HDF5 file")                                                //
      ("micro-batch", po::value(&micro_batch)->default_value(micro_batch), "samples per forward") //
      ("tp", po::value(&tp)->default_value(tp), "tensor-parallel degree")                         //
      ("pp", po::value(&pp)->default_value(pp), "pipeline-parallel degree")                       //
      ("dp", po::value(&dp)->default_value(dp), "data-parallel degree (0: world / (tp*pp))");
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0; // --help was printed
  GLM3D_USAGE_CHECK(!load.empty() && !out.empty()) << "glm3d eval needs --load CKPT and --out OUT.h5";
  GLM3D_USAGE_CHECK(synthetic != !samples_path.empty())
      << "give exactly one of --samples FILE or --synthetic";
  GLM3D_USAGE_CHECK(micro_batch > 0 && count > 0 && start >= 0) << "--micro-batch, --count must be positive";
  run_on_root(ctx.world, 0, [&] { check_output_file("--out", out); });

  const ResumeFrom ck = open_resume(load);
  const ModelConfig& cfg = ck.meta.cfg;
  std::vector<Sample> samples;
  if (synthetic) {
    check_resume(ck, cfg, "");
    SyntheticTask task(cfg.seq_len, cfg.vocab, ck.meta.seed);
    for (int64_t k = start; k < start + count; ++k)
      samples.push_back(task.get(k));
  } else {
    samples = read_sample_file(samples_path);
    const std::string have = sample_file_tokenizer(samples_path);
    GLM3D_USAGE_CHECK(ck.meta.tokenizer_sha256.empty() || have.empty() || have == ck.meta.tokenizer_sha256)
        << "checkpoint " << ck.path << ": field tokenizer_sha256 is " << ck.meta.tokenizer_sha256
        << ", but sample file " << samples_path << " was made with tokenizer sha256 " << have;
  }
  const int64_t N = int64_t(samples.size());
  GLM3D_USAGE_CHECK(N > 0) << "no samples to evaluate";
  const int64_t S = int64_t(samples[0].tokens.size());
  for (const Sample& s : samples)
    for (int64_t i = 0; i < S; ++i) {
      GLM3D_USAGE_CHECK(s.tokens[size_t(i)] >= 0 && s.tokens[size_t(i)] < cfg.vocab)
          << "sample token " << s.tokens[size_t(i)] << " is outside the checkpoint's vocabulary of "
          << cfg.vocab;
      GLM3D_USAGE_CHECK(!s.loss_mask[size_t(i)] ||
                        (s.targets[size_t(i)] >= 0 && s.targets[size_t(i)] < cfg.vocab))
          << "sample target " << s.targets[size_t(i)]
          << " (at a loss_mask position) is outside the checkpoint's "
          << "vocabulary of " << cfg.vocab;
    }

  const ParallelDims dims = ParallelDims::make(ctx.world_size, tp, pp, dp);
  validate_for_model(dims, cfg.num_layers, cfg.num_heads, cfg.ffn_hidden, {});
  ProcessGroups pg = ProcessGroups::create(ctx.world, dims);
  StagePlan plan;
  plan.tp = dims.tp;
  plan.tp_rank = pg.tp_rank();
  for (const StageLayers& s : chunks_of_rank(int(cfg.num_layers), dims.pp, pg.pp_rank(), 1, {}))
    plan.chunks.emplace_back(s.first_layer, s.num_layers);
  plan.has_embedding = pg.is_first_stage() || pg.is_last_stage();
  ExecPolicy exec; // f32; flash attention where the dense kernel cannot read the rows (key/value groups)
  exec.attention = parse_attention("auto", exec.precision, !cfg.packed_qkv());
  GlmModel<float> model(cfg, plan, *pg.tp, exec, 0, /*base_grads=*/false); // forward only
  std::fill(model.params(), model.params() + model.num_params(), 0.f);
  if (ck.meta.kind == "finetune") { // adapters (LoRA, prefix): their base's weights, the adapters on top
    load_finetune_for_eval(model, ck, pg, ctx.world);
  } else {
    const ShardView view{&model.table(),    pg.tp_rank(), pg.is_first_stage(), pg.dp_rank(), false, 0,
                         model.num_params()};
    std::vector<TensorPiece> pieces = shard_pieces(view, cfg, model.params(), nullptr, nullptr);
    load_checkpoint(ck.path, ctx.world, ck.meta, pieces);
  }

  // This data-parallel replica's samples [s0, s1), in micro-batches.
  const int64_t s0 = N * pg.dp_rank() / dims.dp, s1 = N * (pg.dp_rank() + 1) / dims.dp, n = s1 - s0;
  std::vector<MicroBatch> mbs;
  for (int64_t i = s0; i < s1; i += micro_batch)
    mbs.push_back(stack_samples(
        std::vector<Sample>(samples.begin() + i, samples.begin() + std::min(s1, i + micro_batch))));
  const int64_t Vl = model.table().padded_vocab() / dims.tp;
  std::vector<float> logits(size_t(n * S * Vl)); // [n, S, Vl] this rank's vocabulary slice
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

  // Per-sample loss over the loss mask, in f64 across the vocabulary slices of the tp group.
  const bool last = pg.is_last_stage();
  const int64_t v0 = int64_t(pg.tp_rank()) * Vl, vl_real = std::max<int64_t>(0, std::min(Vl, cfg.vocab - v0));
  std::vector<double> loss_sum(size_t(n), 0.0), loss(size_t(n), 0.0);
  std::vector<int64_t> loss_tokens(size_t(n), 0);
  if (last) {
    std::vector<double> mx(size_t(n * S)), se(size_t(n * S)), tgt(size_t(n * S), 0.0);
    for (int64_t t = 0; t < n * S; ++t) {
      const float* row = logits.data() + t * Vl;
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t c = 0; c < vl_real; ++c)
        m = std::max(m, double(row[c]));
      mx[size_t(t)] = m;
    }
    pg.tp->all_reduce(mx.data(), mx.size(), ReduceOp::max);
    for (int64_t t = 0; t < n * S; ++t) {
      const float* row = logits.data() + t * Vl;
      double s = 0;
      for (int64_t c = 0; c < vl_real; ++c)
        s += std::exp(double(row[c]) - mx[size_t(t)]);
      se[size_t(t)] = s;
      const int64_t target = samples[size_t(s0 + t / S)].targets[size_t(t % S)];
      if (target >= v0 && target < v0 + vl_real)
        tgt[size_t(t)] = double(row[target - v0]);
    }
    pg.tp->all_reduce(se.data(), se.size(), ReduceOp::sum);
    pg.tp->all_reduce(tgt.data(), tgt.size(), ReduceOp::sum);
    for (int64_t t = 0; t < n * S; ++t) {
      if (!samples[size_t(s0 + t / S)].loss_mask[size_t(t % S)])
        continue;
      loss_sum[size_t(t / S)] += std::log(se[size_t(t)]) + mx[size_t(t)] - tgt[size_t(t)];
      ++loss_tokens[size_t(t / S)];
    }
    for (int64_t i = 0; i < n; ++i)
      loss[size_t(i)] = loss_tokens[size_t(i)] ? loss_sum[size_t(i)] / double(loss_tokens[size_t(i)])
                                               : std::numeric_limits<double>::quiet_NaN();
  }

  // Mean over every target token of every sample: each sample's sums live on one rank (last
  // stage, tp rank 0 of its data-parallel replica).
  double total[2] = {0.0, 0.0}; // loss sum, target tokens
  if (last && pg.tp_rank() == 0)
    for (int64_t i = 0; i < n; ++i)
      total[0] += loss_sum[size_t(i)], total[1] += double(loss_tokens[size_t(i)]);
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, total, 2, MPI_DOUBLE, MPI_SUM, ctx.world));
  const double mean_loss = total[1] > 0 ? total[0] / total[1] : std::numeric_limits<double>::quiet_NaN();

  // Parallel write: the last stage's ranks write their samples' rows and vocabulary columns.
  const std::string tmp = out + ".tmp";
  {
    auto lock = h5::library_lock();
    h5::Handle fapl(H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
    H5_CHECK(H5Pset_fapl_mpio(fapl.get(), ctx.world, MPI_INFO_NULL));
    h5::set_checksummed_format(fapl.get());
    h5::Handle f;
    try {
      f = h5::Handle(H5_CHECK(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get())), H5Fclose);
    } catch (const Error& e) {
      GLM3D_USAGE_FAIL() << "cannot create " << tmp << ": " << e.what();
    }
    h5::write_attr_str(f.get(), "checkpoint", ck.path);
    h5::write_attr_i64(f.get(), "step", ck.meta.step);
    h5::write_attr_i64(f.get(), "seq_len", S);
    h5::write_attr_i64(f.get(), "vocab", cfg.vocab);
    h5::write_attr_f64(f.get(), "mean_loss", mean_loss);
    h5::write_attr_f64(f.get(), "perplexity", std::exp(mean_loss));
    const hsize_t ldims[3] = {hsize_t(N), hsize_t(S), hsize_t(cfg.vocab)}, vdims[1] = {hsize_t(N)};
    h5::Handle lspace(H5_CHECK(H5Screate_simple(3, ldims, nullptr)), H5Sclose);
    h5::Handle vspace(H5_CHECK(H5Screate_simple(1, vdims, nullptr)), H5Sclose);
    auto create = [&](const char* name, hid_t type, hid_t space) {
      return h5::Handle(
          H5_CHECK(H5Dcreate2(f.get(), name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Dclose);
    };
    h5::Handle dl = create("logits", H5T_IEEE_F32LE, lspace.get());
    h5::Handle dloss = create("loss", H5T_IEEE_F64LE, vspace.get());
    h5::Handle dsum = create("loss_sum", H5T_IEEE_F64LE, vspace.get());
    h5::Handle dtok = create("loss_tokens", H5T_STD_I64LE, vspace.get());
    if (last && n > 0 && vl_real > 0) {
      const hsize_t fstart[3] = {hsize_t(s0), 0, hsize_t(v0)},
                    fcount[3] = {hsize_t(n), hsize_t(S), hsize_t(vl_real)};
      h5::Handle fs(H5_CHECK(H5Dget_space(dl.get())), H5Sclose);
      H5_CHECK(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, fstart, nullptr, fcount, nullptr));
      const hsize_t mdims[2] = {hsize_t(n * S), hsize_t(Vl)}, mstart[2] = {0, 0},
                    mcount[2] = {hsize_t(n * S), hsize_t(vl_real)};
      h5::Handle ms(H5_CHECK(H5Screate_simple(2, mdims, nullptr)), H5Sclose);
      H5_CHECK(H5Sselect_hyperslab(ms.get(), H5S_SELECT_SET, mstart, nullptr, mcount, nullptr));
      H5_CHECK(H5Dwrite(dl.get(), H5T_NATIVE_FLOAT, ms.get(), fs.get(), H5P_DEFAULT, logits.data()));
    }
    if (last && pg.tp_rank() == 0 && n > 0) {
      const hsize_t vstart[1] = {hsize_t(s0)}, vcount[1] = {hsize_t(n)};
      auto write_vec = [&](const h5::Handle& d, hid_t mtype, const void* data) {
        h5::Handle fs(H5_CHECK(H5Dget_space(d.get())), H5Sclose);
        H5_CHECK(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, vstart, nullptr, vcount, nullptr));
        h5::Handle ms(H5_CHECK(H5Screate_simple(1, vcount, nullptr)), H5Sclose);
        H5_CHECK(H5Dwrite(d.get(), mtype, ms.get(), fs.get(), H5P_DEFAULT, data));
      };
      write_vec(dloss, H5T_NATIVE_DOUBLE, loss.data());
      write_vec(dsum, H5T_NATIVE_DOUBLE, loss_sum.data());
      write_vec(dtok, H5T_NATIVE_INT64, loss_tokens.data());
    }
  }
  MPI_CHECK(MPI_Barrier(ctx.world));
  if (ctx.rank == 0) {
    std::error_code ec;
    std::filesystem::rename(tmp, out, ec);
    GLM3D_USAGE_CHECK(!ec) << "cannot rename " << tmp << " to " << out << ": " << ec.message();
    std::printf("eval: %lld samples of length %lld, step %lld checkpoint -> %s\n", (long long)N, (long long)S,
                (long long)ck.meta.step, out.c_str());
    if (total[1] > 0)
      std::printf("eval: mean loss %.6f over %.0f target tokens, perplexity %.4f\n", mean_loss, total[1],
                  std::exp(mean_loss));
    else
      std::printf("eval: no target tokens (loss_mask is 0 everywhere): no mean loss\n");
  }
  return 0;
}

} // namespace glm3d
