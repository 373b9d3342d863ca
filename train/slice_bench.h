#pragma once
// One rank's real slice of a big model on one machine (glm3d bench slice): the layers of tensor-
// parallel rank 0 at the model's true sizes (e.g. GLM-130B at tp 8: hidden 12288, 12 heads of
// 128, GeGLU 32768/8 per rank), with its optimizer, run forward and backward over one micro-batch
// per step. The tensor- and data-parallel peers are LoopbackCommunicators: collectives complete
// locally and count the bytes they would move, so the numbers computed are meaningless but the
// time and memory of the rank are real.
#include <cstdint>
#include <string>

namespace glm3d {

struct SliceOptions {
  std::string model = "glm-130b"; // preset or INI
  int tp = 8, dp = 1;
  bool zero = false;   // ZeRO-1 over the dp stand-ins (the optimizer holds 1/dp of the state)
  int layers = 2;      // transformer layers of the slice (the model needs layers + 2 or more)
  int64_t seq_len = 0; // 0: the model's
  int64_t micro_batch = 1;
  std::string precision = "bf16", recompute = "full", attention = "auto";
  int steps = 2; // timed steps after one warm-up step
  uint64_t seed = 1;
};

struct SliceReport {
  int64_t params = 0;                         // parameters of the slice on this rank
  int64_t seq_len = 0;                        // the sequence length run (--seq-len, else the model's)
  double forward_s = 0, backward_s = 0;       // per layer per micro-batch, mean over the timed steps
  double optimizer_s = 0;                     // per step
  double model_flops = 0, hardware_flops = 0; // per layer per micro-batch: 3x forward; plus recomputation
  int64_t activation_bytes = 0;               // held per layer per micro-batch after forward (measured)
  int64_t planned_activation_bytes = 0;       // the memory model's figure for the same
  int64_t model_state_bytes = 0;              // weights, gradients, master and moments (allocated)
  int64_t planned_model_state_bytes = 0;
  int64_t tp_bytes = 0;       // tensor-parallel payload bytes per step (as if the peers existed)
  int64_t peak_rss_bytes = 0; // VmHWM after the run
  double model_gflops() const { return model_flops / (forward_s + backward_s) / 1e9; }
  double hardware_gflops() const { return hardware_flops / (forward_s + backward_s) / 1e9; }
};

// UsageError for bad options (unknown preset, tp not dividing heads, too few layers, ...).
SliceReport run_slice(const SliceOptions& opt);

} // namespace glm3d
