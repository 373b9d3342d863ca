#include "train/metrics.h"

#include "core/check.h"

#include <cmath>
#include <sstream>

namespace glm3d {

MetricsWriter::MetricsWriter(const std::string& path) {
  if (path.empty())
    return;
  f_ = std::fopen(path.c_str(), "w");
  GLM3D_USAGE_CHECK(f_) << "cannot write metrics file '" << path << "'";
}

MetricsWriter::~MetricsWriter() {
  if (f_)
    std::fclose(f_);
}

void MetricsWriter::write(const StepMetrics& m) {
  if (!f_)
    return;
  std::string line = to_json(m) + "\n";
  std::fputs(line.c_str(), f_);
  std::fflush(f_);
}

namespace {
std::string num(double v) {
  if (!std::isfinite(v))
    return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
} // namespace

std::string to_json(const StepMetrics& m) {
  std::ostringstream os;
  os << "{\"step\":" << m.step << ",\"loss\":" << num(m.loss) << ",\"lr\":" << num(m.lr)
     << ",\"grad_norm\":" << num(m.grad_norm) << ",\"tokens\":" << m.tokens
     << ",\"step_time_s\":" << num(m.step_time_s) << ",\"tokens_per_s\":" << num(m.tokens_per_s)
     << ",\"mfu\":" << num(m.mfu) << ",\"skipped\":" << (m.skipped ? "true" : "false")
     << ",\"skipped_total\":" << m.skipped_total << ",\"compute_s\":" << num(m.compute_s)
     << ",\"comm_wait_s\":" << num(m.comm_wait_s) << ",\"bubble_s\":" << num(m.bubble_s) << ",\"bytes\":{";
  bool first = true;
  for (const auto& [group, bytes] : m.bytes_per_group) {
    os << (first ? "" : ",") << "\"" << group << "\":" << bytes;
    first = false;
  }
  os << "}}";
  return os.str();
}

std::string progress_line(const StepMetrics& m, double elapsed_s) {
  const double per_step = m.step > 0 ? elapsed_s / double(m.step) : 0;
  const double eta = per_step * double(m.total_steps - m.step);
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "step %lld/%lld | loss %.4f | lr %.2e | grad %.3f | %.0f tok/s | ETA %dm%02ds%s",
                (long long)m.step, (long long)m.total_steps, m.loss, m.lr, m.grad_norm, m.tokens_per_s,
                int(eta) / 60, int(eta) % 60, m.skipped ? " | SKIPPED (non-finite)" : "");
  return buf;
}

} // namespace glm3d
