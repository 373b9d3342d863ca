#include "plan/cpu_calibration.h"

#include "model/memory_model.h"

#include "core/check.h"
#include "core/cpu/matmul.h"

#include <nlohmann/json.hpp>
#include <omp.h>
#include <unistd.h>

#include "core/cpu/onednn.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace glm3d {

using json = nlohmann::ordered_json;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best of `reps` timings of f() after one warm-up call.
template <class F> double best_seconds(int reps, F&& f) {
  f();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const double t0 = now_s();
    f();
    best = std::min(best, now_s() - t0);
  }
  return best;
}

std::vector<std::pair<double, double>> measure_gemm(cpu::Precision p) {
  std::vector<std::pair<double, double>> out;
  for (int64_t n : {128, 256, 512, 1024}) {
    std::vector<float> A(size_t(n * n), 0.5f), B(size_t(n * n), 0.25f), C(size_t(n * n), 0.f);
    const double flops = 2.0 * double(n) * double(n) * double(n);
    const int reps = n <= 256 ? 20 : 3;
    const double s = best_seconds(
        reps, [&] { cpu::gemm<float>(false, false, n, n, n, A.data(), B.data(), C.data(), 0.f, p); });
    out.emplace_back(flops, flops / s);
  }
  return out;
}

double measure_triad() {
  const size_t n = size_t(1) << 23; // 3 x 32 MB
  std::vector<float> a(n, 1.f), b(n, 2.f), c(n, 0.f);
  const double s = best_seconds(3, [&] {
#pragma omp parallel for
    for (size_t i = 0; i < n; ++i)
      c[i] = a[i] + 0.5f * b[i];
  });
  return 3.0 * 4.0 * double(n) / s;
}

double measure_allreduce(MPI_Comm comm, int size) {
  const size_t n = size_t(1) << 22; // 16 MB of floats
  std::vector<float> buf(n, 1.f);
  double s =
      best_seconds(3, [&] { MPI_Allreduce(MPI_IN_PLACE, buf.data(), int(n), MPI_FLOAT, MPI_SUM, comm); });
  MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_MAX, comm); // the slowest rank's
  return 2.0 * (size - 1) / size * 4.0 * double(n) / s;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// A field of /proc/self/status in bytes (VmRSS, VmHWM).
double self_status(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string k, unit;
  double kb = 0;
  while (in >> k) {
    if (k == key + ":") {
      in >> kb >> unit;
      return kb * 1024;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

double mem_total() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  double kb = 0;
  while (in >> key >> kb >> unit)
    if (key == "MemTotal:")
      return kb * 1024;
  return 0;
}

} // namespace

CpuCalibration calibrate_cpu(MPI_Comm comm) {
  int size = 1, rank = 0;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  CpuCalibration c;
  c.cpu = cpu_model();
  c.cores = int(sysconf(_SC_NPROCESSORS_ONLN));
  c.threads = omp_get_max_threads();
  c.memory_bytes = mem_total();
  c.impl_f32 = cpu::detail::onednn_gemm_impl(false, 1024, 1024, 1024, false);
  c.impl_bf16 = cpu::detail::onednn_gemm_impl(false, 1024, 1024, 1024, true);
  {
    // What a glm3d process holds besides model memory: the same binary, MPI up, libraries mapped,
    // oneDNN's kernels generated and OpenMP started; read before the large buffers below.
    std::vector<float> x(64 * 64, 1.f), y(64 * 64, 0.f);
    for (cpu::Precision p : {cpu::Precision::f32, cpu::Precision::bf16})
      cpu::gemm<float>(false, true, 64, 64, 64, x.data(), x.data(), y.data(), 0.f, p);
    c.process_baseline_bytes = self_status("VmRSS");
  }
  c.f32 = measure_gemm(cpu::Precision::f32);
  c.bf16 = measure_gemm(cpu::Precision::bf16);
  c.mem_bw = measure_triad();
  c.allreduce_measured = size > 1;
  c.allreduce_bw = size > 1 ? measure_allreduce(comm, size) : c.mem_bw / 2;
  return c;
}

std::string default_calibration_path() {
  namespace fs = std::filesystem;
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const fs::path base = xdg && *xdg ? fs::path(xdg) : fs::path(home ? home : "/tmp") / ".cache";
  return (base / "glm3d" / "cpu_profile.json").string();
}

void save_calibration(const CpuCalibration& c, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  json j = {{"format", "glm3d cpu profile 1"},
            {"cpu", c.cpu},
            {"impl_f32", c.impl_f32},
            {"impl_bf16", c.impl_bf16},
            {"cores", c.cores},
            {"threads", c.threads},
            {"memory_bytes", c.memory_bytes},
            {"process_baseline_bytes", c.process_baseline_bytes},
            {"mem_bw", c.mem_bw},
            {"allreduce_bw", c.allreduce_bw},
            {"allreduce_measured", c.allreduce_measured},
            {"gemm_f32", c.f32},
            {"gemm_bf16", c.bf16}};
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  GLM3D_USAGE_CHECK(out.good()) << "cannot write the CPU profile " << path;
}

std::optional<CpuCalibration> load_calibration(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  CpuCalibration c;
  try {
    const json j = json::parse(in);
    c.cpu = j.at("cpu");
    c.impl_f32 = j.at("impl_f32");
    c.impl_bf16 = j.at("impl_bf16");
    c.cores = j.at("cores");
    c.threads = j.at("threads");
    c.memory_bytes = j.at("memory_bytes");
    c.process_baseline_bytes = j.at("process_baseline_bytes");
    c.mem_bw = j.at("mem_bw");
    c.allreduce_bw = j.at("allreduce_bw");
    c.allreduce_measured = j.at("allreduce_measured");
    c.f32 = j.at("gemm_f32").get<std::vector<std::pair<double, double>>>();
    c.bf16 = j.at("gemm_bf16").get<std::vector<std::pair<double, double>>>();
  } catch (const json::exception& e) {
    GLM3D_USAGE_FAIL() << "CPU profile " << path << " is unreadable (" << e.what()
                       << "); delete it or rerun glm3d bench matmul";
  }
  GLM3D_USAGE_CHECK(!c.f32.empty() && !c.bf16.empty() && c.mem_bw > 0)
      << "CPU profile " << path << " is incomplete";
  return c;
}

std::string describe(const CpuCalibration& c) {
  std::ostringstream os;
  os << "cpu      " << c.cpu << ", " << c.cores << " cores, " << c.memory_bytes / 1e9 << " GB, matmuls on "
     << c.threads << " thread(s)\n";
  for (const auto& [name, curve, impl] :
       {std::tuple{"f32", &c.f32, &c.impl_f32}, std::tuple{"bf16", &c.bf16, &c.impl_bf16}}) {
    os << "matmul   " << name << " (" << *impl << "):";
    for (const auto& [flops, rate] : *curve)
      os << " " << int(std::cbrt(flops / 2) + 0.5) << "^3 " << int(rate / 1e9) << " GFLOP/s;";
    os << "\n";
  }
  os << "memory   triad " << c.mem_bw / 1e9 << " GB/s; a glm3d process holds "
     << c.process_baseline_bytes / 1e6 << " MB before any model memory\n"
     << "MPI      all-reduce bus bandwidth " << c.allreduce_bw / 1e9 << " GB/s"
     << (c.allreduce_measured ? " (measured)" : " (estimated from memory bandwidth: run under mpirun -n 2+)")
     << "\n";
  return os.str();
}

DeviceProfile cpu_device(const CpuCalibration& c, int ranks_per_node) {
  // Ranks share the cores: each gets min(1, cores / (ranks x threads)) of a measured matmul rate.
  const double share = std::min(1.0, double(c.cores) / (double(std::max(1, ranks_per_node)) * c.threads));
  DeviceProfile d;
  d.name = "cpu";
  d.description =
      c.cpu + " (" + std::to_string(ranks_per_node) + " ranks on " + std::to_string(c.cores) + " cores)";
  d.curve_f32 = c.f32;
  d.curve_bf16 = c.bf16;
  for (auto* curve : {&d.curve_f32, &d.curve_bf16})
    for (auto& [flops, rate] : *curve)
      rate *= share;
  d.peak_f32 = d.curve_f32.back().second;
  d.peak_bf16 = d.curve_bf16.back().second;
  d.memory_bytes = c.memory_bytes / std::max(1, ranks_per_node);
  // A training process holds more than the bench process did before measuring (HDF5, the
  // data and checkpoint code, MPI's segments at its rank count): the trainer's own measured
  // figure, which its start-up check uses too.
  d.reserve_bytes = double(k_process_baseline_bytes);
  d.hbm_bw = c.mem_bw * share;
  d.intra_bw = d.inter_bw = c.allreduce_bw;
  d.latency_s = 20e-6;
  d.price_elementwise = true;
  d.sources = "measured on this machine (glm3d bench matmul)";
  return d;
}

double machine_peak_flops(const CpuCalibration& c, cpu::Precision p) {
  const auto& curve = p == cpu::Precision::bf16 ? c.bf16 : c.f32;
  GLM3D_CHECK(!curve.empty()) << "CPU profile without matmul rates";
  return curve.back().second * std::max(1.0, double(c.cores) / std::max(1, c.threads));
}

} // namespace glm3d
