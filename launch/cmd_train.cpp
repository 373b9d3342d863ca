// glm3d train: option parsing for the trainer (train/trainer.h does the work).
#include "core/check.h"
#include "launch/options.h"
#include "pipeline/partition.h"
#include "train/trainer.h"

#include <cstdio>
#include <iostream>
#include <sstream>

namespace glm3d {

int cmd_train(const Args& args, const RunContext& ctx) {
  TrainOptions o;
  std::string pp_layers;
  po::options_description desc("glm3d train options");
  desc.add_options()("model", po::value(&o.model)->default_value(o.model),
                     "preset (tiny, small, base, chatglm-6b, glm-10b, glm-130b) or INI file")(
      "synthetic", po::bool_switch(&o.synthetic), "train on the synthetic blank-infilling task")(
      "data", po::value(&o.data_dir), "token store directory made by glm3d prep")(
      "steps", po::value(&o.steps)->default_value(o.steps), "total optimizer steps")(
      "micro-batch", po::value(&o.micro_batch)->default_value(o.micro_batch), "samples per micro-batch")(
      "global-batch", po::value(&o.global_batch)->default_value(o.global_batch),
      "samples per optimizer step")("seq-len", po::value(&o.seq_len)->default_value(o.seq_len),
                                    "sequence length (0: the model's)")(
      "lr", po::value(&o.lr)->default_value(o.lr), "peak learning rate (0: the preset's recommended)")(
      "min-lr", po::value(&o.min_lr)->default_value(o.min_lr),
      "learning rate at the end of the cosine decay (-1: lr/10)")(
      "warmup-steps", po::value(&o.warmup_steps)->default_value(o.warmup_steps),
      "linear warm-up steps")("decay-steps", po::value(&o.decay_steps)->default_value(o.decay_steps),
                              "cosine decay length (0: --steps)")(
      "weight-decay", po::value(&o.weight_decay)->default_value(o.weight_decay),
      "AdamW weight decay (not on biases, LayerNorm)")("beta1", po::value(&o.beta1)->default_value(o.beta1),
                                                       "AdamW beta1")(
      "beta2", po::value(&o.beta2)->default_value(o.beta2),
      "AdamW beta2")("eps", po::value(&o.eps)->default_value(o.eps),
                     "AdamW epsilon")("clip-grad", po::value(&o.clip_grad)->default_value(o.clip_grad),
                                      "clip the global gradient norm (0: off)")(
      "seed", po::value(&o.seed)->default_value(o.seed),
      "seed of init and data")("bf16", po::bool_switch(&o.bf16), "bf16 matmul inputs with f32 accumulation")(
      "metrics", po::value(&o.metrics_file), "write one JSON object per step to this file")(
      "log-interval", po::value(&o.log_interval)->default_value(o.log_interval),
      "progress line every N steps")("peak-tflops", po::value(&o.peak_tflops)->default_value(o.peak_tflops),
                                     "the job's peak TFLOP/s, for MFU")(
      "tp", po::value(&o.tp)->default_value(o.tp),
      "tensor-parallel degree")("pp", po::value(&o.pp)->default_value(o.pp), "pipeline-parallel degree")(
      "dp", po::value(&o.dp)->default_value(o.dp), "data-parallel degree (0: world / (tp*pp))")(
      "virtual-stages", po::value(&o.virtual_stages)->default_value(o.virtual_stages),
      "model chunks per pipeline rank (interleaved)")("schedule",
                                                      po::value(&o.schedule)->default_value(o.schedule),
                                                      "pipeline schedule: gpipe, 1f1b, interleaved")(
      "pp-layers", po::value(&pp_layers), "layers per pipeline stage, e.g. 8,9,9,9,9,9,9,8")(
      "zero", po::value(&o.zero)->default_value(o.zero), "ZeRO stage (0 or 1)")(
      "bucket-mb", po::value(&o.bucket_mb)->default_value(o.bucket_mb),
      "data-parallel gradient bucket size (MB)")("max-skipped",
                                                 po::value(&o.max_skipped)->default_value(o.max_skipped),
                                                 "stop after this many consecutive non-finite steps")(
      "hang-timeout", po::value(&o.hang_timeout)->default_value(o.hang_timeout),
      "seconds without progress before the job is aborted with a report of what each rank waits on (0: off)")(
      "embedding-grad-shrink", po::value(&o.embedding_grad_shrink)->default_value(o.embedding_grad_shrink),
      "scale the word-embedding gradient from the input lookup (GLM-130B: 0.1)")(
      "skip-iters", po::value(&o.skip_iters),
      "steps to skip, e.g. 1200-1250,3000-3010: data consumed, no update (loss spikes)")(
      "inject-fault", po::value(&o.inject_fault),
      "testing only: nan@STEPS, throw@STEP:RANK, hang@STEP:RANK, kill@STEP:RANK")(
      "quiet", po::bool_switch(&o.quiet), "no progress lines")(
      "save", po::value(&o.save_dir), "checkpoint directory (step_N.h5 files and a `latest` pointer)")(
      "save-interval", po::value(&o.save_interval)->default_value(o.save_interval),
      "save every N steps (0: at the end and on SIGINT/SIGTERM/SIGUSR1 only)")(
      "keep", po::value(&o.keep)->default_value(o.keep), "keep the N newest checkpoints (0: all)")(
      "load", po::value(&o.load), "resume from a checkpoint file, or the latest in a directory (any layout)");
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0; // --help was printed
  // Resuming without --model takes the checkpoint's model.
  if (!o.load.empty() && vm["model"].defaulted())
    o.model.clear();
  if (!pp_layers.empty())
    o.pp_layers = parse_pp_layers(pp_layers);
  const TrainResult r = train(o, ctx.world, ctx.stop_signals);
  if (ctx.rank == 0 && !o.quiet)
    std::printf("done: %zu steps, final loss %.6f, %lld skipped\n", r.losses.size(),
                r.losses.empty() ? 0.0 : r.losses.back(), (long long)r.skipped_steps);
  return 0;
}

} // namespace glm3d
