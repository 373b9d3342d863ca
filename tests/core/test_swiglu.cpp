// SwiGLU (ChatGLM2/3): closed-form silu values, the gate is the first half, f32 vs f64,
// backward by finite differences.
#include "core/cpu/activation.h"
#include "gradcheck.h"

#include <cmath>
#include <gtest/gtest.h>

namespace glm3d::cpu {
namespace {

using test::SeededRng;

// silu(a) = a / (1 + exp(-a)), values from Python's math; rows [a | 1] give silu(a) itself.
TEST(Swiglu, ClosedFormValues) {
  const double a[] = {0, 1, -1, 2, -2, 10, -10, 30, -30};
  const double want[] = {0.0,
                         0.7310585786300049,
                         -0.2689414213699951,
                         1.7615941559557646,
                         -0.2384058440442351,
                         9.999546021312975,
                         -0.0004539786870243439,
                         29.999999999997197,
                         -2.8072868906517896e-12};
  constexpr int F = 9;
  double x[2 * F], y[F];
  float xf[2 * F], yf[F];
  for (int i = 0; i < F; ++i)
    x[i] = a[i], x[F + i] = 1.0, xf[i] = float(a[i]), xf[F + i] = 1.0f;
  test::poison(y, F);
  swiglu_forward<double>(x, y, 1, F);
  swiglu_forward<float>(xf, yf, 1, F);
  for (int i = 0; i < F; ++i) {
    EXPECT_NEAR(y[i], want[i], 1e-15 * std::max(1.0, std::abs(want[i]))) << "a=" << a[i];
    // f32: exp_f32 within 2 ulp, then three roundings: 6e-7 relative
    EXPECT_NEAR(yf[i], want[i], 6e-7 * std::abs(want[i]) + 1e-30) << "a=" << a[i];
  }
}

// The gate is the first half (torch.chunk(x, 2)[0]), the value the second: [1 | 2] -> 2 silu(1)
// (the GeGLU order would give 1 * act(2)).
TEST(Swiglu, GateIsTheFirstHalf) {
  SeededRng rng;
  const int64_t N = 3, F = 4;
  auto x = rng.uniform_vec<double>(N * 2 * F, -3, 3);
  std::vector<double> y(N * F);
  test::poison(y.data(), N * F);
  swiglu_forward<double>(x.data(), y.data(), N, F);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < F; ++i) {
      const double a = x[n * 2 * F + i], b = x[n * 2 * F + F + i];
      const double want = a / (1 + std::exp(-a)) * b; // a few roundings apart: 4 eps / 2 relative
      EXPECT_NEAR(y[n * F + i], want, 5e-16 * std::abs(want)) << rng.tag();
    }
  const double one_two[2] = {1.0, 2.0};
  double out;
  swiglu_forward<double>(one_two, &out, 1, 1);
  EXPECT_NEAR(out, 2 * 0.7310585786300049, 1e-15);
}

// Bound 1e-6 relative (floor 1e-2): see gradcheck.h.
TEST(Swiglu, BackwardMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const int64_t N = 4, F = 6;
  auto x = rng.uniform_vec<double>(N * 2 * F, -5, 5), R = rng.uniform_vec<double>(N * F);
  std::vector<double> y(N * F), dx(N * 2 * F);
  auto loss = [&] {
    swiglu_forward<double>(x.data(), y.data(), N, F);
    return test::weighted_sum(y.data(), R.data(), N * F);
  };
  test::poison(dx.data(), N * 2 * F);
  swiglu_backward<double>(x.data(), R.data(), dx.data(), N, F);
  const auto r = test::gradcheck(loss, x.data(), N * 2 * F, dx.data());
  EXPECT_LT(r.max_rel, 1e-6) << r.str() << " " << rng.tag();
}

// f32 vs f64 with a, b in [-4, 4], dy in [-1, 1]. sigmoid = 1 / (1 + e): e from exp_f32 within
// 2 ulp (2.4e-7 relative), plus the add and the divide: ds <= 3.6e-7 s. y = a s b: two more
// roundings, 4.8e-7 |y| -> 6e-7 |y|. db = dy silu(a): the same, 6e-7 |db|.
// da = dy b s (1 + a (1 - s)): 1 - s inherits s's absolute error 3.6e-7, times |a| <= 4, so
// silu' is within (1 + 2 |a|) 3.6e-7 = 3.3e-6 absolute, times |dy b| <= 4: 1.3e-5, with the
// roundings 2e-5.
TEST(Swiglu, F32MatchesF64) {
  SeededRng rng;
  const int64_t N = 8, F = 64;
  auto xd = rng.uniform_vec<double>(N * 2 * F, -4, 4), dyd = rng.uniform_vec<double>(N * F);
  for (auto* v : {&xd, &dyd})
    for (auto& e : *v)
      e = double(float(e));
  std::vector<float> xf(xd.begin(), xd.end()), dyf(dyd.begin(), dyd.end()), yf(N * F), dxf(N * 2 * F);
  std::vector<double> yd(N * F), dxd(N * 2 * F);
  swiglu_forward<double>(xd.data(), yd.data(), N, F);
  swiglu_forward<float>(xf.data(), yf.data(), N, F);
  swiglu_backward<double>(xd.data(), dyd.data(), dxd.data(), N, F);
  swiglu_backward<float>(xf.data(), dyf.data(), dxf.data(), N, F);
  for (int64_t i = 0; i < N * F; ++i)
    ASSERT_NEAR(yf[i], yd[i], 6e-7 * std::abs(yd[i]) + 1e-30) << rng.tag();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < F; ++i) {
      const int64_t da = n * 2 * F + i, db = da + F;
      ASSERT_NEAR(dxf[da], dxd[da], 2e-5) << rng.tag();
      ASSERT_NEAR(dxf[db], dxd[db], 6e-7 * std::abs(dxd[db]) + 1e-30) << rng.tag();
    }
}

} // namespace
} // namespace glm3d::cpu
