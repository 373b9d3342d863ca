#pragma once
// Everything `glm3d train` can be told (command line or INI via --config).
#include "model/adapters.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace glm3d {

struct TrainOptions {
  std::string model = "tiny"; // preset name or INI file
  bool synthetic = false;     // the synthetic blank-infilling task
  std::string data_dir;       // token store (glm3d prep) or SFT store (glm3d prep sft)
  int64_t steps = 100;        // total optimizer steps
  int64_t micro_batch = 1;    // samples per micro-batch
  int64_t global_batch = 8;   // samples per optimizer step (all dp ranks, all micro-batches)
  int64_t seq_len = 0;        // 0: the model's
  double lr = 0, min_lr = -1; // 0: the model preset's recommended lr; -1: lr / 10
  int64_t warmup_steps = 10;
  int64_t decay_steps = 0; // 0: = steps
  double weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double clip_grad = 1.0; // 0: no clipping
  uint64_t seed = 1234;
  std::string precision = "f32";  // f32 | bf16 (model/exec_policy.h); --bf16 is an alias of bf16
  std::string recompute = "none"; // none | selective | full
  std::string attention = "auto"; // auto | dense | flash
  std::string metrics_file;
  // Held-out loss (train/evaluator.h): samples 0..eval_samples-1 of eval_data, every
  // eval_interval steps (0: after the last step only) and after the last step.
  std::string eval_data; // "" = none; an SFT store (its valid split) or a token store
  int64_t eval_interval = 0;
  int64_t eval_samples = 16;
  int64_t log_interval = 1;
  double peak_tflops = 0; // the job's peak for MFU; 0: measured (train/mfu_peak.h)
  // Parallel layout.
  int tp = 1, pp = 1, dp = 0; // dp 0: inferred from the world size
  int virtual_stages = 1;
  std::string schedule = "1f1b"; // gpipe | 1f1b | interleaved
  std::vector<int> pp_layers;    // explicit layers per stage
  int zero = 0;                  // 0 or 1
  double bucket_mb = 25;         // data-parallel gradient bucket size (MB, fractions allowed)
  // Robustness.
  int64_t max_skipped = 5;             // consecutive non-finite steps before stopping
  double hang_timeout = 900;           // seconds without progress before the watchdog aborts (0: off)
  double embedding_grad_shrink = 1.0;  // GLM-130B: scale of the input-embedding gradient (tied head unscaled)
  std::string skip_iters;              // "A-B[,C-D]": steps whose data is consumed without an update
  std::string inject_fault;            // tests only: see train/fault_injection.h
  int64_t check_replicas_interval = 0; // every N steps: replicas bitwise equal across dp and tp (0: off)
  bool skip_memory_check = false;      // start even when the memory estimate exceeds what is available
  bool save_only = false;              // glm3d ckpt reshard: load --load, save it to --save, no step
  // Fine-tuning (glm3d finetune): the pretrained model's weights, and what trains on top of it.
  std::string base;         // checkpoint of the base model
  AdapterSpec adapters;     // method none: pretraining
  std::string adapter_init; // --adapter: a new LoRA run starts from these adapters (train/finetune_adapter.h)
  std::string ptuning_init; // --ptuning DIR: a ChatGLM P-tuning checkpoint to start the encoder from
  bool dry_run = false;     // print trainable parameters and planned memory, then exit
  bool quiet = false;
  // Checkpoints (train/checkpoint.h). --steps stays the total: a resumed run continues up to it.
  std::string save_dir;      // "" = never save
  int64_t save_interval = 0; // save every N steps (0: only at the end and on SIGINT/SIGTERM/SIGUSR1)
  int64_t keep = 0;          // keep the N newest checkpoints (0: all)
  std::string load;          // checkpoint file or directory (its `latest`) to resume from
  // With `load` and no model given: "" takes the checkpoint's model.
  // Options set explicitly (command line or --config), by their long name ("lr", "seed"): on
  // resume these override the checkpoint's settings; the others take the checkpoint's.
  std::set<std::string> given;
};

} // namespace glm3d
