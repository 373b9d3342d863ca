#pragma once
// Metrics: one JSON object per optimizer step to --metrics FILE (flushed every
// step, written by one rank), and the human progress line on the terminal.
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

namespace glm3d {

struct StepMetrics {
  int64_t step = 0, total_steps = 0;
  double loss = 0, lr = 0, grad_norm = 0;
  int64_t tokens = 0;
  double step_time_s = 0, tokens_per_s = 0, mfu = 0;
  bool skipped = false;
  int64_t skipped_total = 0;
  std::map<std::string, uint64_t> bytes_per_group; // payload bytes moved this step, per group
  double compute_s = 0, comm_wait_s = 0, bubble_s = 0;
};

class MetricsWriter {
public:
  explicit MetricsWriter(const std::string& path); // "" -> no file
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;
  void write(const StepMetrics& m);

private:
  std::FILE* f_ = nullptr;
};

std::string to_json(const StepMetrics& m);
// "step 12/300 | loss 3.2142 | lr 1.00e-03 | 12345 tok/s | ETA 1m05s"
std::string progress_line(const StepMetrics& m, double elapsed_s);

} // namespace glm3d
