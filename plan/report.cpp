#include "plan/report.h"

#include "core/check.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace glm3d {

using json = nlohmann::ordered_json;

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string gb(double bytes) {
  return fmt("%.2f GB", bytes / 1e9);
}

std::string secs(double s) {
  return s >= 1 ? fmt("%.2f s", s) : fmt("%.1f ms", s * 1e3);
}

std::string pct(double f) {
  return fmt("%.2f%%", 100 * f);
}

std::string header(const PlanInput& in) {
  std::ostringstream os;
  os << "model    " << to_string(in.cfg) << "\n"
     << "device   " << in.dev.description << ": " << fmt("%.1f", in.dev.peak_bf16 / 1e12) << " TFLOP/s bf16, "
     << gb(in.dev.memory_bytes) << ", " << in.gpus_per_node << " per node\n"
     << "batch    global " << in.global_batch << " x seq " << in.cfg.seq_len << "\n";
  return os.str();
}

json memory_json(const RankMemory& m, double total) {
  return {{"weights", m.weights},
          {"grads", m.grads},
          {"optimizer", m.optimizer},
          {"activations", m.activations},
          {"workspace", m.workspace + m.comm},
          {"total", total}};
}

json layout_json(const Layout& l) {
  return {{"tp", l.tp},
          {"pp", l.pp},
          {"dp", l.dp},
          {"virtual_stages", l.virtual_stages},
          {"micro_batch", l.micro_batch},
          {"zero", l.zero},
          {"recompute", to_string(l.exec.recompute)},
          {"precision", to_string(l.exec.precision)},
          {"attention", to_string(l.exec.attention)},
          {"schedule", to_string(l.schedule)},
          {"pp_layers", l.pp_layers}};
}

} // namespace

std::string format_prediction(const PlanInput& in, const Prediction& p) {
  std::ostringstream os;
  const StageMemory& s = p.stages[size_t(p.peak_stage)];
  os << header(in) << "layout   " << p.layout.str() << ", " << p.num_microbatches
     << " micro-batches per pipeline\n\n";
  os << "memory per rank (max over ranks: stage " << s.pp_rank << ", " << s.layers << " layers"
     << (s.embedding ? " + embedding" : "") << (s.head ? " + LM head" : "") << ")\n"
     << "  weights            " << gb(double(s.mem.weights)) << "\n"
     << "  gradients          " << gb(double(s.mem.grads)) << "\n"
     << "  master + optimizer " << gb(double(s.mem.optimizer)) << "\n"
     << "  activations        " << gb(double(s.mem.activations)) << "\n"
     << "  workspace          " << gb(double(s.mem.workspace + s.mem.comm)) << " (+ "
     << gb(in.dev.reserve_bytes) << " runtime)\n"
     << "  total              " << gb(s.total) << " of " << gb(in.dev.memory_bytes) << ": "
     << (p.fits ? "fits" : "DOES NOT FIT") << "\n\n";
  os << "step time          " << secs(p.step_s) << "\n"
     << "  compute          " << secs(p.compute_s) << "\n"
     << "  tp communication " << secs(p.tp_comm_s) << "\n"
     << "  pipeline bubble  " << secs(p.bubble_s) << " (" << pct(p.bubble_fraction) << " of the pipeline)\n"
     << "  pipeline p2p     " << secs(p.p2p_s) << "\n"
     << "  dp exposed       " << secs(p.dp_exposed_s) << "\n"
     << "  optimizer        " << secs(p.optimizer_s) << "\n"
     << "tokens/s           " << fmt("%.0f", p.tokens_per_s) << "\n"
     << "model TFLOP/s/GPU  " << fmt("%.1f", p.model_tflops_per_gpu) << " (hardware "
     << fmt("%.1f", p.hw_tflops_per_gpu) << ")\n"
     << "MFU " << pct(p.mfu) << ", HFU " << pct(p.hfu) << "\n";
  return os.str();
}

std::string format_search(const PlanInput& in, const SearchResult& r) {
  std::ostringstream os;
  os << header(in) << "\n";
  if (r.best.empty())
    os << "no layout fits\n";
  else
    os << "  #  step time   tokens/s  MFU    mem/rank  layout\n";
  for (size_t i = 0; i < r.best.size(); ++i) {
    const Prediction& p = r.best[i];
    char line[160];
    std::snprintf(line, sizeof line, "%3zu  %-10s %9.0f  %5.1f%%  %7.2f GB  ", i + 1, secs(p.step_s).c_str(),
                  p.tokens_per_s, 100 * p.mfu, p.peak_bytes / 1e9);
    os << line << p.layout.str() << "\n";
  }
  os << "\n" << r.candidates << " layouts examined, " << r.fitting << " fit; rejected:";
  if (r.rejected.empty())
    os << " none";
  os << "\n";
  for (const auto& [why, n] : r.rejected)
    os << "  " << n << "  " << why << "\n";
  return os.str();
}

std::string explain(const PlanInput& in, const Prediction& p, int width) {
  std::ostringstream os;
  os << "memory per pipeline stage (GB)\n"
     << "stage layers  weights   grads  optim  activ  workspace  total\n";
  for (const StageMemory& s : p.stages) {
    char line[160];
    std::snprintf(line, sizeof line, "%5d %6d %8.2f %7.2f %6.2f %6.2f %10.2f %6.2f%s\n", s.pp_rank, s.layers,
                  s.mem.weights / 1e9, s.mem.grads / 1e9, s.mem.optimizer / 1e9, s.mem.activations / 1e9,
                  (s.mem.workspace + s.mem.comm + in.dev.reserve_bytes) / 1e9, s.total / 1e9,
                  s.embedding && s.head ? "  embedding + head"
                  : s.embedding         ? "  embedding"
                  : s.head              ? "  head"
                                        : "");
    os << line;
  }
  os << "\nsimulated schedule (" << to_string(p.layout.schedule) << ", " << p.num_microbatches
     << " micro-batches; one column = " << secs(p.trace.makespan / width)
     << "; F forward, B backward, . idle)\n"
     << trace_chart(p.trace, width);
  return os.str();
}

json prediction_json(const PlanInput& in, const Prediction& p) {
  json stages = json::array();
  for (const StageMemory& s : p.stages)
    stages.push_back({{"stage", s.pp_rank},
                      {"layers", s.layers},
                      {"embedding", s.embedding},
                      {"head", s.head},
                      {"memory_bytes", memory_json(s.mem, s.total)}});
  return {{"layout", layout_json(p.layout)},
          {"micro_batches", p.num_microbatches},
          {"memory_per_rank_bytes", memory_json(p.stages[size_t(p.peak_stage)].mem, p.peak_bytes)},
          {"peak_stage", p.peak_stage},
          {"device_memory_bytes", in.dev.memory_bytes},
          {"fits", p.fits},
          {"stages", stages},
          {"step_time_s", p.step_s},
          {"step_split_s",
           {{"compute", p.compute_s},
            {"tp_comm", p.tp_comm_s},
            {"bubble", p.bubble_s},
            {"p2p", p.p2p_s},
            {"dp_exposed", p.dp_exposed_s},
            {"optimizer", p.optimizer_s}}},
          {"bubble_fraction", p.bubble_fraction},
          {"tokens_per_s", p.tokens_per_s},
          {"model_tflops_per_gpu", p.model_tflops_per_gpu},
          {"hw_tflops_per_gpu", p.hw_tflops_per_gpu},
          {"mfu", p.mfu},
          {"hfu", p.hfu}};
}

json search_json(const PlanInput& in, const SearchResult& r) {
  json best = json::array();
  for (const Prediction& p : r.best)
    best.push_back(prediction_json(in, p));
  return {{"best", best}, {"candidates", r.candidates}, {"fitting", r.fitting}, {"rejected", r.rejected}};
}

void write_memory_png(const PlanInput& in, const Prediction& p, const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path dat = fs::temp_directory_path() / ("glm3d_plan_" + std::to_string(::getpid()) + ".dat");
  {
    std::ofstream f(dat);
    for (const StageMemory& s : p.stages)
      f << s.pp_rank << " " << s.mem.weights / 1e9 << " " << s.mem.grads / 1e9 << " " << s.mem.optimizer / 1e9
        << " " << s.mem.activations / 1e9 << " "
        << (s.mem.workspace + s.mem.comm + in.dev.reserve_bytes) / 1e9 << "\n";
  }
  std::ostringstream gp;
  gp << "set terminal pngcairo size 900,500; set output '" << path << "';"
     << "set title '" << in.cfg.name << ": " << p.layout.str() << "' noenhanced font ',10';"
     << "set yrange [0:" << 1.1 * std::max(p.peak_bytes, in.dev.memory_bytes) / 1e9 << "];"
     << "set style data histograms; set style histogram rowstacked; set style fill solid 0.8 border -1;"
     << "set ylabel 'memory per rank (GB)'; set xlabel 'pipeline stage'; set key outside;"
     << "set label 'device memory' at graph 0.02, first " << in.dev.memory_bytes / 1e9
     << " offset 0,0.6 tc rgb 'red';"
     << "set arrow from graph 0, first " << in.dev.memory_bytes / 1e9 << " to graph 1, first "
     << in.dev.memory_bytes / 1e9 << " nohead dt 2 lc rgb 'red';"
     << "plot '" << dat.string() << "' using 2:xtic(1) title 'weights', '' using 3 title 'gradients',"
     << " '' using 4 title 'master + optimizer', '' using 5 title 'activations', '' using 6 title "
        "'workspace'";
  const std::string cmd = "gnuplot -e \"" + gp.str() + "\" 2>&1";
  const int rc = std::system(cmd.c_str());
  std::error_code ec;
  fs::remove(dat, ec);
  GLM3D_USAGE_CHECK(rc == 0) << "--png " << path << ": gnuplot failed (is gnuplot installed?)";
}

} // namespace glm3d
