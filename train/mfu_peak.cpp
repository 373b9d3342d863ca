#include "train/mfu_peak.h"

#include "model/exec_policy.h"
#include "parallel/agreement.h"
#include "plan/cpu_calibration.h"

#include <exception>
#include <limits>
#include <optional>

namespace glm3d {
namespace {

// Nodes of the job: the ranks that are first on their shared-memory node.
int count_nodes(MPI_Comm world) {
  if (!mpi_active())
    return 1;
  MPI_Comm node;
  MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int local = 0;
  MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  int first = local == 0 ? 1 : 0, nodes = 0;
  MPI_Allreduce(&first, &nodes, 1, MPI_INT, MPI_SUM, world);
  return nodes;
}

} // namespace

PeakFlops job_peak_flops(double peak_tflops, cpu::Precision p, MPI_Comm world) {
  if (peak_tflops > 0)
    return {peak_tflops * 1e12, "--peak-tflops"};
  const int nodes = count_nodes(world);
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

double model_flops_utilisation(double flops_per_token, double tokens_per_s, const PeakFlops& peak) {
  return peak.flops > 0 ? flops_per_token * tokens_per_s / peak.flops
                        : std::numeric_limits<double>::quiet_NaN();
}

} // namespace glm3d
