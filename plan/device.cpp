#include "plan/device.h"

#include "core/check.h"

#include <algorithm>
#include <cmath>

namespace glm3d {

namespace {

constexpr double GB = 1e9, TB = 1e12, T = 1e12, GiB = double(1ll << 30);

// Sources of the GPU rows (datasheets; NCCL and Megatron measurements):
//  A100 SXM4: NVIDIA A100 datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4): 312 TFLOP/s
//    dense FP16/BF16 tensor core, 19.5 FP32, 40 GB HBM2 at 1,555 GB/s, 80 GB HBM2e at
//    2,039 GB/s, NVLink 600 GB/s (300 per direction). DGX A100: 8 HDR 200 Gb/s InfiniBand
//    ports for 8 GPUs = 25 GB/s per GPU per direction.
//  H100 SXM5: NVIDIA H100 datasheet: 989.4 TFLOP/s dense BF16 (1,979 with sparsity), 67 FP32,
//    80 GB HBM3 at 3.35 TB/s, NVLink 900 GB/s (450 per direction). DGX H100: 8 ConnectX-7
//    400 Gb/s = 50 GB/s per GPU.
//  H200 SXM: NVIDIA H200 datasheet: same GH100 compute (989 TFLOP/s dense BF16), 141 GB HBM3e
//    at 4.8 TB/s, NVLink 900 GB/s; DGX H200 networking as DGX H100.
//  intra_eff 0.69: nccl-tests all_reduce_perf on 8 A100 SXM over NVSwitch measures 200-208 GB/s
//    bus bandwidth against 300 GB/s per direction (NVIDIA/nccl-tests issues #149, #178).
//  inter_eff 0.85: all_reduce_perf across 3 nodes of 8 A100 with 4 HDR NICs: 84.8 GB/s average
//    bus bandwidth (96 peak) against 100 GB/s of NIC bandwidth (NVIDIA/nccl-tests issue #119).
//  gemm_e_max / t0: see device.h (Megatron-LM Table 1 on A100). H100 and H200: e_max 0.47,
//    Megatron-Core's "up to 47% MFU" on H100 clusters (Megatron-LM README), same t0.
//  reserve: CUDA context, cuBLAS workspaces and NCCL buffers, 1 GiB per process (assumed).
DeviceProfile gpu(const char* name, const char* desc, double peak_bf16, double peak_f32, double mem,
                  double hbm, double nvlink_dir, double nic_per_gpu, double e_max) {
  DeviceProfile d;
  d.name = name;
  d.description = desc;
  d.peak_bf16 = peak_bf16;
  d.peak_f32 = peak_f32;
  d.memory_bytes = mem;
  d.reserve_bytes = 1 * GiB;
  d.hbm_bw = hbm;
  d.intra_bw = nvlink_dir;
  d.inter_bw = nic_per_gpu;
  d.intra_eff = 0.69;
  d.inter_eff = 0.85;
  d.latency_s = 10e-6;
  d.gemm_e_max = e_max;
  d.gemm_t0_s = 104e-6;
  d.sources = "datasheet peaks; NCCL bus bandwidth from nccl-tests issues #119/#149/#178; sustained GEMM "
              "efficiency from Megatron-LM (arXiv 2104.04473 Table 1; Megatron-Core README for H100)";
  return d;
}

const std::vector<DeviceProfile>& gpu_table() {
  static const std::vector<DeviceProfile> t = {
      gpu("a100-40g", "NVIDIA A100-SXM4-40GB (DGX A100: 8 per node, 8x HDR 200 Gb/s)", 312 * T, 19.5 * T,
          40 * GiB, 1555 * GB, 300 * GB, 25 * GB, 0.527),
      gpu("a100-80g", "NVIDIA A100-SXM4-80GB (DGX A100: 8 per node, 8x HDR 200 Gb/s)", 312 * T, 19.5 * T,
          80 * GiB, 2039 * GB, 300 * GB, 25 * GB, 0.527),
      gpu("h100-80g", "NVIDIA H100-SXM5-80GB (DGX H100: 8 per node, 8x NDR 400 Gb/s)", 989.4 * T, 66.9 * T,
          80 * GiB, 3.35 * TB, 450 * GB, 50 * GB, 0.47),
      gpu("h200", "NVIDIA H200-SXM-141GB (DGX H200: 8 per node, 8x NDR 400 Gb/s)", 989.4 * T, 66.9 * T,
          141 * GB, 4.8 * TB, 450 * GB, 50 * GB, 0.47),
  };
  return t;
}

// Linear interpolation of rate over log(flops), clamped at the ends.
double interpolate(const std::vector<std::pair<double, double>>& pts, double g) {
  if (g <= pts.front().first)
    return pts.front().second * g / pts.front().first; // below the smallest size: fixed time
  if (g >= pts.back().first)
    return pts.back().second;
  for (size_t i = 1; i < pts.size(); ++i)
    if (g <= pts[i].first) {
      const double t =
          (std::log(g) - std::log(pts[i - 1].first)) / (std::log(pts[i].first) - std::log(pts[i - 1].first));
      return pts[i - 1].second + t * (pts[i].second - pts[i - 1].second);
    }
  return pts.back().second;
}

} // namespace

double DeviceProfile::gemm_seconds(const Gemm& g, cpu::Precision p) const {
  const double f = g.flops();
  if (f <= 0)
    return 0;
  const auto& curve = p == cpu::Precision::bf16 ? curve_bf16 : curve_f32;
  if (!curve.empty())
    return f / interpolate(curve, f);
  return f / (peak(p) * gemm_e_max) + gemm_t0_s;
}

double DeviceProfile::bus_bw(int per_node, int n) const {
  const double intra = intra_bw * intra_eff;
  if (per_node >= n)
    return intra;
  return std::min(intra, double(per_node) * inter_bw * inter_eff);
}

double DeviceProfile::allreduce_seconds(double bytes, int n, int per_node) const {
  if (n <= 1 || bytes <= 0)
    return 0;
  return 2.0 * (n - 1) / n * bytes / bus_bw(per_node, n) + 2.0 * (n - 1) * latency_s;
}

double DeviceProfile::gather_seconds(double bytes, int n, int per_node) const {
  if (n <= 1 || bytes <= 0)
    return 0;
  return double(n - 1) / n * bytes / bus_bw(per_node, n) + double(n - 1) * latency_s;
}

double DeviceProfile::p2p_seconds(double bytes, bool same_node) const {
  return latency_s + bytes / (same_node ? intra_bw * intra_eff : inter_bw * inter_eff);
}

const std::vector<std::string>& device_names() {
  static const std::vector<std::string> n = {"a100-40g", "a100-80g", "h100-80g", "h200", "cpu"};
  return n;
}

DeviceProfile gpu_profile(const std::string& name) {
  for (const DeviceProfile& d : gpu_table())
    if (d.name == name)
      return d;
  std::string known;
  for (const auto& n : device_names())
    known += (known.empty() ? "" : ", ") + n;
  GLM3D_USAGE_FAIL() << "unknown --device '" << name << "' (known: " << known << ")";
}

} // namespace glm3d
