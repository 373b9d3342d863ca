// glm3d train: option parsing for the trainer (train/trainer.h does the work).
#include "core/check.h"
#include "launch/layout_options.h"
#include "launch/options.h"
#include "pipeline/partition.h"
#include "train/trainer.h"

#include <cstdio>
#include <iostream>
#include <sstream>

namespace glm3d {

namespace {

// The options of every training run (train and finetune), into `o`; pp_layers and bf16 are
// resolved by finish_train_options.
void add_train_options(po::options_description& desc, TrainOptions& o, std::string& pp_layers, bool& bf16) {
  desc.add_options() //
      ("model", defaulted(&o.model),
       "preset (tiny, quickstart, small, base, chatglm-6b, glm-10b, glm-130b, ...) or INI file")    //
      ("synthetic", po::bool_switch(&o.synthetic), "train on the synthetic blank-infilling task")   //
      ("data", po::value(&o.data_dir), "token store (glm3d prep) or SFT store (glm3d prep sft)")    //
      ("steps", defaulted(&o.steps), "total optimizer steps")                                       //
      ("micro-batch", defaulted(&o.micro_batch), "samples per micro-batch")                         //
      ("global-batch", defaulted(&o.global_batch), "samples per optimizer step")                    //
      ("seq-len", defaulted(&o.seq_len), "sequence length (0: the model's)")                        //
      ("lr", defaulted(&o.lr), "peak learning rate (0: the preset's recommended)")                  //
      ("min-lr", defaulted(&o.min_lr), "learning rate at the end of the cosine decay (-1: lr/10)")  //
      ("warmup-steps", defaulted(&o.warmup_steps), "linear warm-up steps")                          //
      ("decay-steps", defaulted(&o.decay_steps), "cosine decay length (0: --steps)")                //
      ("weight-decay", defaulted(&o.weight_decay), "AdamW weight decay (not on biases, LayerNorm)") //
      ("beta1", defaulted(&o.beta1), "AdamW beta1")                                                 //
      ("beta2", defaulted(&o.beta2), "AdamW beta2")                                                 //
      ("eps", defaulted(&o.eps), "AdamW epsilon")                                                   //
      ("clip-grad", defaulted(&o.clip_grad), "clip the global gradient norm (0: off)")              //
      ("seed", defaulted(&o.seed), "seed of init and data")                                         //
      ("precision", defaulted(&o.precision),
       "f32, or bf16: bf16 weights refreshed each step from f32 master weights, f32 gradients") //
      ("bf16", po::bool_switch(&bf16), "the same as --precision bf16")                          //
      ("recompute", defaulted(&o.recompute),
       "activation recomputation: none, selective (attention core) or full (whole layers)") //
      ("attention", defaulted(&o.attention),
       "attention kernel: auto (f32 dense, bf16 flash), dense, flash")                       //
      ("metrics", po::value(&o.metrics_file), "write one JSON object per step to this file") //
      ("eval-data", po::value(&o.eval_data),
       "held-out loss on an SFT store's valid split or a token store's samples (seed: --seed)") //
      ("eval-interval", defaulted(&o.eval_interval),
       "held-out loss every N steps and after the last (0: after the last only)")                           //
      ("eval-samples", defaulted(&o.eval_samples), "held-out samples 0..N-1, the same at every evaluation") //
      ("log-interval", defaulted(&o.log_interval), "progress line every N steps")                           //
      ("peak-tflops", defaulted(&o.peak_tflops),
       "the job's peak TFLOP/s for MFU (0: this machine's measured peak in the run's precision, from glm3d "
       "bench matmul)");
  add_layout_options(desc, o, pp_layers);
  desc.add_options()                                                                                  //
      ("schedule", defaulted(&o.schedule), "pipeline schedule: gpipe, 1f1b, interleaved")             //
      ("bucket-mb", defaulted(&o.bucket_mb), "data-parallel gradient bucket size (MB)")               //
      ("max-skipped", defaulted(&o.max_skipped), "stop after this many consecutive non-finite steps") //
      ("hang-timeout", defaulted(&o.hang_timeout),
       "seconds without progress before the job is aborted, with a report of what each rank waits on "
       "(0: off)") //
      ("embedding-grad-shrink", defaulted(&o.embedding_grad_shrink),
       "scale the word-embedding gradient from the input lookup (GLM-130B: 0.1)") //
      ("skip-iters", po::value(&o.skip_iters),
       "steps to skip, e.g. 1200-1250,3000-3010: data consumed, no update (loss spikes)") //
      ("check-replicas-interval", defaulted(&o.check_replicas_interval),
       "every N steps, check that replicated parameters are bitwise equal across dp and tp (0: off)") //
      ("skip-memory-check", po::bool_switch(&o.skip_memory_check),
       "start even when the per-rank memory estimate exceeds what the node offers") //
      ("inject-fault", po::value(&o.inject_fault),
       "testing only: nan@STEPS, throw@STEP:RANK, hang@STEP:RANK, kill@STEP:RANK, diverge@STEP:RANK")   //
      ("quiet", po::bool_switch(&o.quiet), "no progress lines")                                         //
      ("save", po::value(&o.save_dir), "checkpoint directory (step_N.h5 files and a `latest` pointer)") //
      ("save-interval", defaulted(&o.save_interval),
       "save every N steps (0: at the end and on SIGTERM/SIGUSR1 only)")     //
      ("keep", defaulted(&o.keep), "keep the N newest checkpoints (0: all)") //
      ("load", po::value(&o.load),
       "resume from a checkpoint file, or the latest in a directory (any layout)");
}

void finish_train_options(TrainOptions& o, const po::variables_map& vm, const std::string& pp_layers,
                          bool bf16) {
  for (const auto& [name, value] : vm)
    if (!value.defaulted())
      o.given.insert(name);
  if (bf16) {
    GLM3D_USAGE_CHECK(vm["precision"].defaulted() || o.precision == "bf16")
        << "--bf16 contradicts --precision " << o.precision;
    o.precision = "bf16";
    o.given.insert("precision");
  }
  // Resuming without --model takes the checkpoint's model.
  if (!o.load.empty() && vm["model"].defaulted())
    o.model.clear();
  if (!pp_layers.empty())
    o.pp_layers = parse_pp_layers(pp_layers);
}

int run_training(const TrainOptions& o, const RunContext& ctx) {
  const TrainResult r = train(o, ctx.world, ctx.stop_signals);
  if (ctx.rank == 0 && !o.quiet && !r.nothing_to_do)
    std::printf("done: %zu steps, final loss %.6f, %lld skipped\n", r.losses.size(),
                r.losses.empty() ? 0.0 : r.losses.back(), (long long)r.skipped_steps);
  return 0;
}

} // namespace

int cmd_train(const Args& args, const RunContext& ctx) {
  TrainOptions o;
  std::string pp_layers;
  bool bf16 = false;
  po::options_description desc("glm3d train options");
  add_train_options(desc, o, pp_layers, bf16);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0; // --help was printed
  finish_train_options(o, vm, pp_layers, bf16);
  return run_training(o, ctx);
}

// glm3d finetune: the same options and loop, with a base model (--base) and a method (model/adapters.h).
int cmd_finetune(const Args& args, const RunContext& ctx) {
  TrainOptions o;
  std::string pp_layers, method = "lora", targets = "query_key_value";
  bool bf16 = false;
  AdapterSpec& a = o.adapters;
  po::options_description desc("glm3d finetune options (and every glm3d train option)");
  desc.add_options()                                                                                   //
      ("method", defaulted(&method), "full, lora, ptuning or qlora")                                   //
      ("base", po::value(&o.base), "the model to adapt, when --load names this run's own checkpoints") //
      ("adapter", po::value(&o.adapter_init),
       "LoRA: start from these adapters (PEFT directory or glm3d fine-tuning checkpoint; r, alpha, targets "
       "from it)")                                                                                       //
      ("lora-r", defaulted(&a.lora_r), "LoRA rank")                                                      //
      ("lora-alpha", defaulted(&a.lora_alpha), "LoRA alpha (scaling alpha / r)")                         //
      ("lora-dropout", defaulted(&a.lora_dropout), "dropout on the LoRA input")                          //
      ("lora-targets", defaulted(&targets), "query_key_value[,dense,dense_h_to_4h,dense_4h_to_h]")       //
      ("pre-seq-len", defaulted(&a.pre_seq_len), "P-tuning v2 prefix length")                            //
      ("prefix-projection", po::bool_switch(&a.prefix_projection), "P-tuning v2 with the MLP encoder")   //
      ("prefix-dropout", defaulted(&a.prefix_dropout), "dropout on the prefix keys and values")          //
      ("ptuning", po::value(&o.ptuning_init), "start the prefix encoder from a P-tuning checkpoint DIR") //
      ("dry-run", po::bool_switch(&o.dry_run), "print trainable parameters and memory per rank, and exit");
  add_train_options(desc, o, pp_layers, bf16);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0;
  finish_train_options(o, vm, pp_layers, bf16);
  a.method = parse_finetune_method(method);
  a.lora_targets = parse_lora_targets(targets);
  if (vm["lr"].defaulted() && a.method != FinetuneMethod::full)
    o.lr = a.method == FinetuneMethod::ptuning ? 2e-2 : 1e-4; // ChatGLM's P-tuning, PEFT's usual LoRA range
  GLM3D_USAGE_CHECK(!o.base.empty() || !o.load.empty() || (o.dry_run && !o.model.empty()))
      << "glm3d finetune needs --load CKPT (the model to adapt, or this fine-tuning run's checkpoint)";
  if (vm["model"].defaulted())
    o.model.clear(); // the base's
  return run_training(o, ctx);
}

} // namespace glm3d
