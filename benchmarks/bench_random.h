#pragma once
// Benchmark inputs: n values drawn uniformly from [lo, hi) with a fixed seed (benchmarks need
// repeatable inputs, not fresh ones), converted to T (float, bf16, ...).
#include <cstdint>
#include <random>
#include <vector>

namespace glm3d::bench {

template <class T = float>
std::vector<T> random_values(int64_t n, float lo = -1.0f, float hi = 1.0f, uint32_t seed = 12345) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<T> v;
  v.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v.push_back(T(d(gen)));
  return v;
}

} // namespace glm3d::bench
