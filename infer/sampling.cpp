#include "infer/sampling.h"

#include "core/check.h"
#include "core/philox.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

namespace glm3d {

namespace {
constexpr float k_removed = -std::numeric_limits<float>::infinity();

int32_t argmax(const float* x, int64_t V) {
  return int32_t(std::max_element(x, x + V) - x); // the first of equal maxima, as torch.argmax
}
} // namespace

void validate(const SamplingOptions& o) {
  GLM3D_USAGE_CHECK(o.temperature > 0 && std::isfinite(o.temperature))
      << "--temperature must be positive, got " << o.temperature;
  GLM3D_USAGE_CHECK(o.top_k >= 0) << "--top-k must be >= 0 (0: off), got " << o.top_k;
  GLM3D_USAGE_CHECK(o.top_p > 0 && o.top_p <= 1) << "--top-p must be in (0, 1], got " << o.top_p;
}

void warp_scores(float* s, int64_t V, const SamplingOptions& o) {
  if (o.temperature != 1.0)
    for (int64_t i = 0; i < V; ++i)
      s[i] = float(s[i] / o.temperature);
  if (o.top_k > 0 && o.top_k < V) {
    std::vector<float> sorted(s, s + V);
    std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1), sorted.end(), std::greater<float>());
    const float kth = sorted[size_t(o.top_k - 1)];
    for (int64_t i = 0; i < V; ++i)
      if (s[i] < kth)
        s[i] = k_removed;
  }
  if (o.top_p < 1.0) {
    // Ascending by score (ties by index), cumulative softmax in that order.
    std::vector<int64_t> order(static_cast<size_t>(V));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s[a] < s[b]; });
    const double m = s[order.back()];
    double z = 0;
    for (int64_t i = 0; i < V; ++i)
      z += std::exp(double(s[i]) - m);
    double cum = 0;
    for (int64_t r = 0; r + 1 < V; ++r) { // the largest (r = V - 1) always stays
      cum += std::exp(double(s[order[size_t(r)]]) - m) / z;
      if (cum <= 1.0 - o.top_p)
        s[order[size_t(r)]] = k_removed;
    }
  }
}

double sampling_uniform(uint64_t seed, uint64_t sequence, uint64_t step) {
  return Philox4x32::uniform(stream_key(seed, "sample/" + std::to_string(sequence)), step);
}

int32_t next_token(const float* logits, int64_t V, const SamplingOptions& o, uint64_t sequence,
                   uint64_t step) {
  if (o.greedy)
    return argmax(logits, V);
  std::vector<float> s(logits, logits + V);
  warp_scores(s.data(), V, o);
  const double m = s[size_t(argmax(s.data(), V))];
  std::vector<double> p(static_cast<size_t>(V));
  double z = 0;
  for (int64_t i = 0; i < V; ++i)
    z += p[size_t(i)] = std::exp(double(s[size_t(i)]) - m); // removed: exp(-inf) = 0
  const double u = sampling_uniform(o.seed, sequence, step) * z;
  double cum = 0;
  int32_t last_kept = 0;
  for (int64_t i = 0; i < V; ++i) {
    if (p[size_t(i)] == 0)
      continue;
    cum += p[size_t(i)];
    last_kept = int32_t(i);
    if (u < cum)
      return int32_t(i);
  }
  return last_kept; // u * z rounded to the total
}

} // namespace glm3d
