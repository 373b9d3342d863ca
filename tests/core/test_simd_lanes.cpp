// The explicit-lane reductions of core/cpu/simd_clones.h (for_lanes, fold_lanes, lane_sum,
// lane_max): run inside a target clone (the widest this CPU has), they give exactly the bits of
// the documented order, lane l summing terms i0 + l, i0 + l + kLanes, ... and the lanes folded
// pairwise, so a clone of any vector width gives the same result. sum_squares (the gradient
// norm) is one such sum per thread share.
#include "core/cpu/elementwise.h"
#include "core/cpu/simd_clones.h"
#include "gradcheck.h"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <vector>

namespace glm3d::cpu {
namespace {

// The documented order, written out with scalar code: no vectors involved.
template <class A> A reference_lane_sum(const std::vector<A>& terms, int64_t i0, int64_t i1) {
  std::vector<A> acc(kLanes, A(0));
  for (int64_t i = i0; i < i1; ++i)
    acc[size_t((i - i0) % kLanes)] += terms[size_t(i)];
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l)
      acc[size_t(l)] += acc[size_t(l + w)];
  return acc[0];
}

// Terms spanning 16 orders of magnitude with random signs: any other summation order rounds
// differently somewhere.
template <class A> std::vector<A> wide_terms(test::SeededRng& rng, int64_t n) {
  std::vector<A> x(static_cast<size_t>(n));
  for (auto& v : x)
    v = A((rng.uniform(0, 1) < 0.5 ? -1 : 1) * std::pow(10.0, rng.uniform(-8, 8)));
  return x;
}

template <class A> A clone_lane_sum(const std::vector<A>& x, int64_t i0, int64_t i1) {
  A got = 0;
  simd_range(
      [&](int64_t a, int64_t b)
          GLM3D_INLINE { got = lane_sum<A>(a, b, [&](int64_t i) GLM3D_INLINE { return x[size_t(i)]; }); },
      i0, i1);
  return got;
}

template <class A> void expect_lane_order() {
  test::SeededRng rng;
  bool order_matters = false; // the test can tell the lane order from a sequential one
  for (int64_t n : {0, 1, 15, 16, 17, 31, 33, 1000, 4099})
    for (int64_t i0 : {int64_t(0), std::min<int64_t>(n, 3)}) {
      const auto x = wide_terms<A>(rng, n);
      const A want = reference_lane_sum(x, i0, n);
      EXPECT_EQ(clone_lane_sum(x, i0, n), want) << "n " << n << " i0 " << i0;
      A sequential = 0;
      for (int64_t i = i0; i < n; ++i)
        sequential += x[size_t(i)];
      order_matters |= sequential != want;
    }
  EXPECT_TRUE(order_matters);
}

TEST(SimdLanes, SumFollowsTheLaneOrderBitForBitF64) {
  expect_lane_order<double>();
}

TEST(SimdLanes, SumFollowsTheLaneOrderBitForBitF32) {
  expect_lane_order<float>();
}

TEST(SimdLanes, MaxIsTheMaximumOfRangeAndInit) {
  test::SeededRng rng;
  for (int64_t n : {0, 1, 16, 17, 1000}) {
    const auto x = wide_terms<float>(rng, n);
    const float lo = -std::numeric_limits<float>::infinity();
    float got = 0, above = 0;
    simd_range(
        [&](int64_t a, int64_t b) GLM3D_INLINE {
          got = lane_max(x.data(), a, b, lo);
          above = lane_max(x.data(), a, b, 1e9f);
        },
        0, n);
    EXPECT_EQ(got, n ? *std::max_element(x.begin(), x.end()) : lo) << "n " << n;
    EXPECT_EQ(above, 1e9f) << "n " << n; // every |x| < 1e8 + rounding
  }
}

TEST(SimdLanes, SumSquaresIsOneLaneSumPerThreadShare) {
  test::SeededRng rng;
  const int64_t n = 5003;
  const auto x = wide_terms<float>(rng, n);
  std::vector<double> sq(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    sq[size_t(i)] = double(x[size_t(i)]) * double(x[size_t(i)]);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = sum_squares(x.data(), n);
  omp_set_num_threads(threads);
  EXPECT_EQ(one, reference_lane_sum(sq, 0, n));
}

} // namespace
} // namespace glm3d::cpu
