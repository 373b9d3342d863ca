// GeLU (tanh form) and GeGLU: closed-form values, f32 vs f64, backward by finite differences.
#include "core/cpu/activation.h"
#include "gradcheck.h"

#include <cmath>
#include <gtest/gtest.h>

namespace glm3d::cpu {
namespace {

using test::SeededRng;

// Reference values of 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))) computed independently
// (Python, math.tanh); these are also PyTorch's gelu(approximate='tanh').
TEST(Gelu, ClosedFormValues) {
  const double x[] = {0.0, 1.0, -1.0, 2.0, -3.0, 10.0, -10.0};
  const double want[] = {
      0.0, 0.8411919906082768, -0.15880800939172324, 1.954597694087775, -0.0036373920817729943, 10.0, 0.0};
  double y[7];
  test::poison(y, 7);
  gelu_forward<double>(x, y, 7);
  for (int i = 0; i < 7; ++i)
    EXPECT_NEAR(y[i], want[i], 1e-15) << "x=" << x[i];
  float xf[7], yf[7];
  for (int i = 0; i < 7; ++i)
    xf[i] = float(x[i]);
  gelu_forward<float>(xf, yf, 7);
  for (int i = 0; i < 7; ++i)
    EXPECT_NEAR(yf[i], want[i], 1e-6) << "x=" << x[i];
}

// GeGLU is a * gelu(g) on rows [a | g].
TEST(Geglu, ForwardIsValueTimesGeluOfGate) {
  SeededRng rng;
  const int64_t N = 3, F = 5;
  auto x = rng.uniform_vec<double>(N * 2 * F, -3, 3);
  std::vector<double> y(N * F), gg(F);
  test::poison(y.data(), N * F);
  geglu_forward<double>(x.data(), y.data(), N, F);
  for (int64_t n = 0; n < N; ++n) {
    gelu_forward<double>(x.data() + n * 2 * F + F, gg.data(), F);
    for (int64_t i = 0; i < F; ++i)
      EXPECT_EQ(y[n * F + i], x[n * 2 * F + i] * gg[i]) << rng.tag();
  }
}

// Bound 1e-6 relative (floor 1e-2): see gradcheck.h.
TEST(Gelu, BackwardMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const int64_t n = 40;
  auto x = rng.uniform_vec<double>(n, -4, 4), R = rng.uniform_vec<double>(n);
  std::vector<double> y(n), dx(n);
  auto loss = [&] {
    gelu_forward<double>(x.data(), y.data(), n);
    return test::weighted_sum(y.data(), R.data(), n);
  };
  test::poison(dx.data(), n);
  gelu_backward<double>(x.data(), R.data(), dx.data(), n);
  auto r = test::gradcheck(loss, x.data(), n, dx.data());
  EXPECT_LT(r.max_rel, 1e-6) << r.str() << " " << rng.tag();
}

TEST(Geglu, BackwardMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const int64_t N = 4, F = 6;
  auto x = rng.uniform_vec<double>(N * 2 * F, -3, 3), R = rng.uniform_vec<double>(N * F);
  std::vector<double> y(N * F), dx(N * 2 * F);
  auto loss = [&] {
    geglu_forward<double>(x.data(), y.data(), N, F);
    return test::weighted_sum(y.data(), R.data(), N * F);
  };
  test::poison(dx.data(), N * 2 * F);
  geglu_backward<double>(x.data(), R.data(), dx.data(), N, F);
  auto r = test::gradcheck(loss, x.data(), N * 2 * F, dx.data());
  EXPECT_LT(r.max_rel, 1e-6) << r.str() << " " << rng.tag();
}

// f32 vs f64. The f32 path uses tanh_f32 (absolute error dt <= 1.2e-7, tested in
// test_fast_math.cpp) besides a handful of f32 roundings (~1e-7 each on these O(1) values).
//   y  = a * 0.5 g (1 + t):  |dy| <= 0.5 |a g| dt <= 0.5 * 9 * 1.2e-7 = 5.4e-7, plus the
//        rounding of 1 + t (<= 1.2e-7, times 0.5 |a g| <= 4.5: 5.4e-7) and of the two products
//        (6e-8 |y| each; |y| reaches 9, so up to 1.1e-6: seen 1.06e-6 at y = 8.54, seed
//        15466346259119703661)                                       -> 1.1e-6 + 3 * 6e-8 |y|
//   dg = dy a gelu'(g), gelu' = 0.5 (1 + t) + 0.5 g (1 - t^2) u':  its error is at most
//        dt (0.5 + |g| u') <= 1.2e-7 * (0.5 + 3 * 1.76) = 7e-7, times |dy a| <= 3 -> 2.1e-6;
//        with the roundings, 3e-6.
TEST(Geglu, F32MatchesF64) {
  SeededRng rng;
  const int64_t N = 8, F = 64;
  auto xd = rng.uniform_vec<double>(N * 2 * F, -3, 3), dyd = rng.uniform_vec<double>(N * F);
  for (auto* v : {&xd, &dyd})
    for (auto& e : *v)
      e = double(float(e));
  std::vector<float> xf(xd.begin(), xd.end()), dyf(dyd.begin(), dyd.end()), yf(N * F), dxf(N * 2 * F);
  std::vector<double> yd(N * F), dxd(N * 2 * F);
  geglu_forward<double>(xd.data(), yd.data(), N, F);
  geglu_forward<float>(xf.data(), yf.data(), N, F);
  geglu_backward<double>(xd.data(), dyd.data(), dxd.data(), N, F);
  geglu_backward<float>(xf.data(), dyf.data(), dxf.data(), N, F);
  for (int64_t i = 0; i < N * F; ++i)
    ASSERT_NEAR(yf[i], yd[i], 1.1e-6 + 3 * 6e-8 * std::abs(yd[i])) << rng.tag();
  for (int64_t i = 0; i < N * 2 * F; ++i)
    ASSERT_NEAR(dxf[i], dxd[i], 3e-6) << rng.tag();
}

} // namespace
} // namespace glm3d::cpu
