#pragma once
// Metrics: one JSON object per optimizer step, one per line, to --metrics FILE (docs/metrics.md),
// written by one rank and flushed every step. Each record carries a UTC timestamp; the first
// record a run writes also carries `settings`, every resolved setting of that run. A resumed run
// appends to the file. The human progress line on the terminal comes from the same StepMetrics.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

namespace glm3d {

struct StepMetrics {
  int64_t step = 0, total_steps = 0;
  double loss = 0, lr = 0, grad_norm = 0;
  int64_t tokens = 0, target_tokens = 0; // global batch: all tokens, those with loss
  double step_time_s = 0, tokens_per_s = 0, mfu = 0;
  bool skipped = false;
  int64_t skipped_total = 0;
  std::map<std::string, uint64_t> bytes_per_group; // payload bytes moved this step, per group
  double compute_s = 0, comm_wait_s = 0, bubble_s = 0;
  double elapsed_s = 0; // since this run (process) started training
  // Memory per rank, maximum over ranks: the start-up estimate (model/memory_model.h, process
  // baseline included) and the measured peak resident set (VmHWM) so far; -1: not measured.
  int64_t mem_planned = -1, mem_peak_rss = -1, mem_model_state = -1;
  // Model state allocated (weights, gradients, master, moments), maximum over ranks, and the
  // parameters of that rank's share.
  int64_t mem_state_allocated = -1, mem_state_params = -1;
  double eta_s = -1; // estimated time to the last step (-1: unknown)
  // Held-out loss of this step (train/evaluator.h), when one was computed.
  bool evaluated = false;
  double eval_loss = 0;
  int64_t eval_tokens = 0;
};

class MetricsWriter {
public:
  // "" -> no file. append: a resumed run adds to the file instead of replacing it.
  MetricsWriter(const std::string& path, bool append);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;
  // Attached as "settings" to the next record written (the run's first).
  void set_run_settings(nlohmann::ordered_json settings) { settings_ = std::move(settings); }
  void write(const StepMetrics& m);

private:
  std::FILE* f_ = nullptr;
  nlohmann::ordered_json settings_;
};

std::string to_json(const StepMetrics& m);
std::string utc_timestamp(); // "2026-12-02T10:11:12.345Z"
// "step 12/300 | loss 3.2142 | lr 1.00e-03 | grad 0.512 | 12345 tok/s | MFU 41.2% | 1m05s | ETA 3m10s"
std::string progress_line(const StepMetrics& m);
std::string format_duration(double seconds); // "1h02m", "3m05s", "12s"

} // namespace glm3d
