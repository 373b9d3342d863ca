#include "train/mfu_peak.h"

#include "model/exec_policy.h"
#include "parallel/agreement.h"
#include "parallel/node_layout.h"
#include "plan/cpu_calibration.h"

#include <exception>
#include <limits>
#include <optional>

namespace glm3d {
namespace {

// The machine's measured peak from the CPU profile, times the job's nodes.
PeakFlops profile_peak(cpu::Precision p, int nodes) {
  const std::string path = default_calibration_path();
  std::optional<CpuCalibration> c;
  try {
    c = load_calibration(path);
  } catch (const std::exception& e) { // a damaged cache file costs the MFU, not the run
    return {0, std::string("none: ") + e.what()};
  }
  if (!c)
    return {0, "none: no CPU profile at " + path + " (glm3d bench matmul measures one; or --peak-tflops)"};
  const std::string impl = p == cpu::Precision::bf16 ? c->impl_bf16 : c->impl_f32;
  return {machine_peak_flops(*c, p) * nodes, path + " (" + to_string(p) + " matmul, " + impl + ", x " +
                                                 std::to_string(nodes) + " node" + (nodes > 1 ? "s" : "") +
                                                 ")"};
}

} // namespace

PeakFlops job_peak_flops(double peak_tflops, cpu::Precision p, MPI_Comm world) {
  if (peak_tflops > 0)
    return {peak_tflops * 1e12, "--peak-tflops"};
  const int nodes = node_layout(world).nodes;
  int rank = 0;
  if (mpi_active())
    MPI_Comm_rank(world, &rank);
  PeakFlops peak = rank == 0 ? profile_peak(p, nodes) : PeakFlops{0, "rank 0's"};
  if (mpi_active())
    MPI_Bcast(&peak.flops, 1, MPI_DOUBLE, 0, world);
  return peak;
}

double model_flops_utilisation(double flops_per_token, double tokens_per_s, const PeakFlops& peak) {
  return peak.flops > 0 ? flops_per_token * tokens_per_s / peak.flops
                        : std::numeric_limits<double>::quiet_NaN();
}

} // namespace glm3d
