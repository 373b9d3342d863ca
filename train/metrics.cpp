#include "train/metrics.h"

#include "core/check.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <ctime>

namespace glm3d {

using json = nlohmann::ordered_json;

MetricsWriter::MetricsWriter(const std::string& path, bool append) {
  if (path.empty())
    return;
  f_ = std::fopen(path.c_str(), append ? "a" : "w");
  GLM3D_USAGE_CHECK(f_) << "cannot write metrics file '" << path << "'";
}

MetricsWriter::~MetricsWriter() {
  if (f_)
    std::fclose(f_);
}

std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, int(ms));
  return out;
}

namespace {
// Non-finite numbers are JSON null; finite ones keep every bit (nlohmann writes the shortest
// round-trip form), so losses compare exactly across runs.
json num(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json step_record(const StepMetrics& m) {
  json r = {{"step", m.step},
            {"time", utc_timestamp()},
            {"loss", num(m.loss)},
            {"lr", num(m.lr)},
            {"grad_norm", num(m.grad_norm)},
            {"tokens", m.tokens},
            {"target_tokens", m.target_tokens},
            {"step_time_s", num(m.step_time_s)},
            {"tokens_per_s", num(m.tokens_per_s)},
            {"mfu", num(m.mfu)},
            {"skipped", m.skipped},
            {"skipped_total", m.skipped_total},
            {"compute_s", num(m.compute_s)},
            {"comm_wait_s", num(m.comm_wait_s)},
            {"bubble_s", num(m.bubble_s)},
            {"elapsed_s", num(m.elapsed_s)},
            {"bytes", json::object()}};
  for (const auto& [group, bytes] : m.bytes_per_group)
    r["bytes"][group] = bytes;
  if (m.evaluated) {
    r["eval_loss"] = num(m.eval_loss);
    r["eval_tokens"] = m.eval_tokens;
  }
  if (m.mem_peak_rss >= 0)
    r["mem"] = {{"planned_bytes", m.mem_planned},
                {"peak_rss_bytes", m.mem_peak_rss},
                {"model_state_bytes", m.mem_model_state},
                {"model_state_allocated_bytes", m.mem_state_allocated},
                {"model_state_params", m.mem_state_params}};
  return r;
}

} // namespace

void MetricsWriter::write(const StepMetrics& m) {
  if (!f_)
    return;
  json r = step_record(m);
  if (!settings_.is_null()) {
    r["settings"] = std::move(settings_);
    settings_ = json();
  }
  const std::string line = r.dump() + "\n";
  std::fputs(line.c_str(), f_);
  std::fflush(f_);
}

std::string to_json(const StepMetrics& m) {
  return step_record(m).dump();
}

std::string format_duration(double s) {
  if (!(s >= 0))
    return "?";
  const long t = std::lround(s);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

std::string progress_line(const StepMetrics& m) {
  char mem[64] = "";
  if (m.mem_peak_rss >= 0)
    std::snprintf(mem, sizeof mem, " | mem %.2f GB", double(m.mem_peak_rss) / 1e9);
  char mfu[32] = "";
  if (std::isfinite(m.mfu))
    std::snprintf(mfu, sizeof mfu, " | MFU %.1f%%", 100.0 * m.mfu);
  char eval[48] = "";
  if (m.evaluated)
    std::snprintf(eval, sizeof eval, " | eval_loss %.4f", m.eval_loss);
  char buf[400];
  std::snprintf(
      buf, sizeof buf, "step %lld/%lld | loss %.4f%s | lr %.2e | grad %.3f | %.0f tok/s%s%s | %s | ETA %s%s",
      (long long)m.step, (long long)m.total_steps, m.loss, eval, m.lr, m.grad_norm, m.tokens_per_s, mfu, mem,
      format_duration(m.elapsed_s).c_str(), m.eta_s < 0 ? "?" : format_duration(m.eta_s).c_str(),
      m.skipped ? " | SKIPPED (non-finite)" : "");
  return buf;
}

} // namespace glm3d
