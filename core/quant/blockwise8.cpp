#include "core/quant/blockwise8.h"

#include "core/check.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace glm3d::quant {
namespace {

// torch.linspace(0.1, 1, n, dtype=float32): step in float32; the first half counts up from
// start, the second half down from end, each value one fused multiply-add (one rounding).
std::vector<float> linspace_f32(float start, float end, int n) {
  const float step = (end - start) / float(n - 1);
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    v[size_t(i)] = i < n / 2 ? std::fma(step, float(i), start) : std::fma(-step, float(n - 1 - i), end);
  return v;
}

} // namespace

std::array<float, 256> dynamic_map() {
  // signed, max_exponent_bits 7, total_bits 8: for i < 7, 2^i fraction items at scale 10^(i-6),
  // positive and negative (254 values), then 0 and 1.
  constexpr double kScale[7] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
  std::vector<float> data;
  for (int i = 0; i < 7; ++i) {
    const std::vector<float> b = linspace_f32(0.1f, 1.0f, (1 << i) + 1);
    const float s = float(kScale[i]);
    for (size_t j = 0; j + 1 < b.size(); ++j) {
      const float mean = (b[j] + b[j + 1]) / 2.0f;
      data.push_back(s * mean);
      data.push_back(-(s * mean));
    }
  }
  data.push_back(0.0f);
  data.push_back(1.0f);
  GLM3D_CHECK(data.size() == 256) << "dynamic map has " << data.size() << " entries";
  std::sort(data.begin(), data.end());
  data[0] = -1.0f;
  std::array<float, 256> map;
  std::copy(data.begin(), data.end(), map.begin());
  return map;
}

uint8_t nearest_in_map(const float* map256, float v) {
  v = std::clamp(v, -1.0f, 1.0f);
  const float* right = std::lower_bound(map256, map256 + 256, v);
  if (right == map256)
    return 0;
  if (right == map256 + 256)
    return 255;
  const float dist_left = std::fabs(v - right[-1]);
  const float dist_right = std::fabs(right[0] - v);
  const auto idx = uint8_t(right - map256);
  return dist_right < dist_left ? idx : uint8_t(idx - 1);
}

void quantize_blockwise8(const float* x, int64_t n, int64_t blocksize, const float* map256, uint8_t* q,
                         float* absmax) {
  GLM3D_CHECK(n >= 0 && blocksize > 0) << "blockwise quantize: n " << n << ", blocksize " << blocksize;
  quantize_by_block(
      x, n, blocksize, 0, [map256](float v) { return nearest_in_map(map256, v); }, q, absmax);
}

void dequantize_blockwise8(const uint8_t* q, int64_t n, int64_t blocksize, const float* map256,
                           const float* absmax, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    out[i] = map256[q[i]] * absmax[i / blocksize];
}

float mean_f32(const float* x, int64_t n) {
  GLM3D_CHECK(n > 0) << "mean of an empty array";
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i)
    s += double(x[i]);
  return float(s / double(n));
}

} // namespace glm3d::quant
