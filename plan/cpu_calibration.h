#pragma once
// The `cpu` device profile, measured on the machine that plans: oneDNN matmul GFLOP/s (f32 and
// bf16) at a few sizes, memory bandwidth (a streaming triad), and the MPI all-reduce bandwidth
// between local ranks (when run under mpirun with 2 or more ranks; a single rank estimates it
// from the memory bandwidth, as shared-memory MPI copies each byte through memory twice).
// `glm3d bench matmul` writes it; `glm3d plan --device cpu` reads it (and measures it first if
// the file is missing). Nothing here is a constant: an AMD EPYC without AMX gets its own numbers.
#include "plan/device.h"

#include <mpi.h>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace glm3d {

struct CpuCalibration {
  std::string cpu;                   // /proc/cpuinfo model name
  std::string impl_f32, impl_bf16;   // oneDNN's matmul implementation at the largest size
  int cores = 1;                     // online cores
  int threads = 1;                   // OpenMP threads the matmuls ran with
  double memory_bytes = 0;           // MemTotal
  double process_baseline_bytes = 0; // VmRSS of the bench process before it measures (libraries, MPI)
  double mem_bw = 0;                 // bytes/s, triad
  double allreduce_bw = 0;           // bytes/s bus bandwidth between local ranks
  bool allreduce_measured = false;   // false: estimated from mem_bw
  std::vector<std::pair<double, double>> f32, bf16; // (GEMM FLOPs, FLOP/s)
};

// Collective over `comm` (every rank measures its matmuls; rank 0's numbers are kept).
CpuCalibration calibrate_cpu(MPI_Comm comm);

// $XDG_CACHE_HOME/glm3d/cpu_profile.json, else $HOME/.cache/glm3d/cpu_profile.json.
std::string default_calibration_path();
void save_calibration(const CpuCalibration& c, const std::string& path);
std::optional<CpuCalibration> load_calibration(const std::string& path); // nullopt if absent
std::string describe(const CpuCalibration& c);                           // a few lines for people

// The planner's device for `ranks_per_node` ranks sharing this node's cores and memory.
DeviceProfile cpu_device(const CpuCalibration& c, int ranks_per_node);

// The whole machine's matmul FLOP/s in precision p: the rate at the largest measured size, times
// cores / threads when the profile was measured on fewer threads than cores (a rate on as many
// threads as cores, or more, is already the machine's). The peak the trainer's MFU divides by
// (train/mfu_peak.h).
double machine_peak_flops(const CpuCalibration& c, cpu::Precision p);

} // namespace glm3d
