#pragma once
// Device profiles: what one rank's device can do, from public datasheets (GPUs) or from
// `glm3d bench matmul` on this machine (cpu). Every number can be overridden on the command line.
//
// Sustained GEMM throughput. A GEMM of g FLOPs takes g / (peak * e_max) + t0 seconds, i.e. it
// runs at e_max * g / (g + g_half) of peak with g_half = t0 * peak * e_max. e_max and t0 come
// from end-to-end measurements of Megatron-LM on A100 (Narayanan et al. 2021, arXiv 2104.04473,
// Table 1: 137 TFLOP/s per GPU = 44% of peak for the 1.7B model, whose largest per-GPU GEMM is
// 2 x 2048 x 2304 x 9216 = 8.7e10 FLOPs, and 163 TFLOP/s = 52% for the 1T model, 1.34e12 FLOPs,
// both counting recomputation). Those figures include what the kernels around the GEMMs
// (LayerNorm, softmax, GeLU, optimizer, launches) cost, so the planner does not price those
// separately on GPUs. The CPU profile is measured instead: GFLOP/s of oneDNN at a few sizes,
// interpolated in log(FLOPs), plus element-wise traffic at the measured memory bandwidth.
#include "core/cpu/matmul.h"
#include "model/flops.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace glm3d {

struct DeviceProfile {
  std::string name, description;
  double peak_bf16 = 0, peak_f32 = 0;  // dense FLOP/s per device
  double memory_bytes = 0;             // per device
  double reserve_bytes = 0;            // per process, outside the memory model (runtime, context)
  double hbm_bw = 0;                   // bytes/s
  double intra_bw = 0;                 // bytes/s per device per direction inside a node (NVLink)
  double inter_bw = 0;                 // bytes/s per device per direction between nodes (its NIC)
  double intra_eff = 1, inter_eff = 1; // measured bus bandwidth / link bandwidth of ring collectives
  double latency_s = 0;                // per collective step / message
  double gemm_e_max = 1, gemm_t0_s = 0;
  // Measured (GEMM FLOPs, FLOP/s) points per precision; when present they replace e_max/t0.
  std::vector<std::pair<double, double>> curve_f32, curve_bf16;
  bool price_elementwise = false; // add element-wise traffic at hbm_bw (CPU)
  std::string sources;            // where the numbers come from

  double peak(cpu::Precision p) const { return p == cpu::Precision::bf16 ? peak_bf16 : peak_f32; }
  double gemm_seconds(const Gemm& g, cpu::Precision p) const;
  // Ring all-reduce of `bytes` over n ranks with `per_node` of them on each node.
  double allreduce_seconds(double bytes, int n, int per_node) const;
  // Reduce-scatter or all-gather (half an all-reduce's traffic).
  double gather_seconds(double bytes, int n, int per_node) const;
  double p2p_seconds(double bytes, bool same_node) const;
  double bus_bw(int per_node, int n) const; // the ring's bottleneck bandwidth
};

// "a100-40g", "a100-80g", "h100-80g", "h200", "cpu".
const std::vector<std::string>& device_names();
// The datasheet profile of a GPU; UsageError naming the known devices for an unknown name
// ("cpu" comes from the calibration file: plan/cpu_calibration.h).
DeviceProfile gpu_profile(const std::string& name);

} // namespace glm3d
