#pragma once
// The peak FLOP/s that MFU divides by: the whole job's, in the run's precision.
//   --peak-tflops T > 0   T x 1e12, as given;
//   otherwise             this machine's measured matmul peak in the run's precision (the CPU
//                         profile `glm3d bench matmul` writes, plan/cpu_calibration.h) times the
//                         job's nodes;
//   no (readable) profile no peak: MFU is not reported (null in the metrics), rather than a
//                         figure against a peak this machine does not have.
#include "core/cpu/matmul.h"

#include <mpi.h>
#include <string>

namespace glm3d {

struct PeakFlops {
  double flops = 0;   // 0: unknown, no MFU
  std::string source; // for the settings: where the figure comes from
};

// Collective over world (counts the nodes). peak_tflops: the --peak-tflops option (0: auto). Only
// rank 0 reads the profile (a file under $HOME, not one read per rank) and broadcasts the figure;
// `source` is rank 0's.
PeakFlops job_peak_flops(double peak_tflops, cpu::Precision p, MPI_Comm world);

// MFU of a step: flops_per_token * tokens_per_s / peak; NaN when the peak is unknown.
double model_flops_utilisation(double flops_per_token, double tokens_per_s, const PeakFlops& peak);

} // namespace glm3d
