// RMSNorm (ChatGLM2/3): closed-form values, the reference's formula, f32 vs f64, backward by
// finite differences.
#include "core/cpu/rmsnorm.h"
#include "gradcheck.h"

#include <cmath>
#include <gtest/gtest.h>

namespace glm3d::cpu {
namespace {

using test::SeededRng;

// Row [1, 2, 3, 4]: mean of squares 7.5, rstd = 1/sqrt(7.5) (values from Python's math);
// a constant row [3, 3, 3] with eps 0 gives the weight itself; a zero row gives 0 and
// rstd = 1/sqrt(eps).
TEST(RmsNorm, ClosedFormValues) {
  const double x[] = {1, 2, 3, 4, 3, 3, 3, 0, 0, 0, 0, 0};
  const double w[] = {1, 2, 0.5, -1};
  double y[8], rstd[2];
  test::poison(y, 8);
  test::poison(rstd, 2);
  rmsnorm_forward<double>(x, w, y, rstd, 1, 4, 0.0);
  const double want[] = {0.3651483716701107, 1.4605934866804429, 0.5477225575051661, -1.4605934866804429};
  EXPECT_NEAR(rstd[0], 0.3651483716701107, 1e-16);
  for (int c = 0; c < 4; ++c)
    EXPECT_NEAR(y[c], want[c], 1e-15) << c;
  rmsnorm_forward<double>(x + 4, w, y, rstd, 1, 3, 0.0);
  for (int c = 0; c < 3; ++c)
    EXPECT_NEAR(y[c], w[c], 1e-15) << c;
  rmsnorm_forward<double>(x + 7, w, y, rstd, 1, 4, 1e-5);
  EXPECT_NEAR(rstd[0], 316.2277660168379, 1e-12);
  for (int c = 0; c < 4; ++c)
    EXPECT_EQ(y[c], 0.0);
}

// ChatGLM2's RMSNorm.forward written out: variance = mean(x^2); y = weight * (x * rsqrt(var + eps)).
TEST(RmsNorm, ForwardMatchesTheReferenceFormula) {
  SeededRng rng;
  const int64_t N = 7, C = 45;
  const double eps = 1e-5;
  auto x = rng.uniform_vec<double>(N * C, -3, 3), w = rng.uniform_vec<double>(C);
  std::vector<double> y(N * C), rstd(N);
  test::poison(y.data(), N * C);
  test::poison(rstd.data(), N);
  rmsnorm_forward<double>(x.data(), w.data(), y.data(), rstd.data(), N, C, eps);
  for (int64_t n = 0; n < N; ++n) {
    double var = 0;
    for (int64_t c = 0; c < C; ++c)
      var += x[n * C + c] * x[n * C + c] / double(C);
    const double r = 1.0 / std::sqrt(var + eps);
    EXPECT_NEAR(rstd[n], r, 1e-15 * r) << rng.tag();
    for (int64_t c = 0; c < C; ++c)
      ASSERT_NEAR(y[n * C + c], w[c] * (x[n * C + c] * r), 1e-14) << rng.tag();
  }
}

// Bound 1e-6 relative (floor 1e-2): see gradcheck.h. dweight accumulates (+=); accumulate_dx adds.
TEST(RmsNorm, BackwardMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const int64_t N = 5, C = 13;
  const double eps = 1e-5;
  auto x = rng.uniform_vec<double>(N * C, -2, 2), w = rng.uniform_vec<double>(C, -1.5, 1.5);
  auto R = rng.uniform_vec<double>(N * C);
  std::vector<double> y(N * C), rstd(N), dx(N * C);
  auto loss = [&] {
    rmsnorm_forward<double>(x.data(), w.data(), y.data(), rstd.data(), N, C, eps);
    return test::weighted_sum(y.data(), R.data(), N * C);
  };
  loss();
  test::poison(dx.data(), N * C);
  const auto dw0 = rng.uniform_vec<double>(C);
  auto dw = dw0;
  rmsnorm_backward<double>(R.data(), x.data(), w.data(), rstd.data(), dx.data(), dw.data(), N, C, false);
  for (int64_t c = 0; c < C; ++c)
    dw[c] -= dw0[c];
  const auto rx = test::gradcheck(loss, x.data(), N * C, dx.data());
  EXPECT_LT(rx.max_rel, 1e-6) << "dx " << rx.str() << " " << rng.tag();
  const auto rw = test::gradcheck(loss, w.data(), C, dw.data());
  EXPECT_LT(rw.max_rel, 1e-6) << "dweight " << rw.str() << " " << rng.tag();

  auto dx0 = rng.uniform_vec<double>(N * C), dxa = dx0;
  rmsnorm_backward<double>(R.data(), x.data(), w.data(), rstd.data(), dxa.data(), dw.data(), N, C, true);
  for (int64_t i = 0; i < N * C; ++i)
    EXPECT_NEAR(dxa[i], dx0[i] + dx[i], 1e-14) << rng.tag();
}

// f32 vs f64, x in [-2, 2], w and dy in [-1, 1], u = 2^-24. The row statistic is summed in f64,
// so rstd carries one rounding; y = w (x r) two more: 3 u |y|, |y| <= 2 r with r ~ 1/sqrt(4/3)
// = 0.87 (but up to ~2 for an unlucky row of 256): 1e-6. dx is formed in f64 from f32 inputs
// (rstd rounded): a few u of its terms r (|g| + |xhat| |mean(g xhat)|) <= 2 (1 + 4): 1e-5.
// dweight sums 16 terms |dy xhat| <= 4, each within 2 u: 16 * 4 * 2 u = 7.6e-6 -> 1e-5.
TEST(RmsNorm, F32MatchesF64) {
  SeededRng rng;
  const int64_t N = 16, C = 256;
  auto xd = rng.uniform_vec<double>(N * C, -2, 2), wd = rng.uniform_vec<double>(C);
  auto dyd = rng.uniform_vec<double>(N * C);
  for (auto* v : {&xd, &wd, &dyd})
    for (auto& e : *v)
      e = double(float(e));
  std::vector<float> xf(xd.begin(), xd.end()), wf(wd.begin(), wd.end()), dyf(dyd.begin(), dyd.end());
  std::vector<double> yd(N * C), rd(N), dxd(N * C), dwd(C, 0.0);
  std::vector<float> yf(N * C), rf(N), dxf(N * C), dwf(C, 0.0f);
  rmsnorm_forward<double>(xd.data(), wd.data(), yd.data(), rd.data(), N, C, 1e-5);
  rmsnorm_forward<float>(xf.data(), wf.data(), yf.data(), rf.data(), N, C, 1e-5);
  rmsnorm_backward<double>(dyd.data(), xd.data(), wd.data(), rd.data(), dxd.data(), dwd.data(), N, C, false);
  rmsnorm_backward<float>(dyf.data(), xf.data(), wf.data(), rf.data(), dxf.data(), dwf.data(), N, C, false);
  for (int64_t i = 0; i < N * C; ++i)
    ASSERT_NEAR(yf[i], yd[i], 1e-6) << rng.tag();
  for (int64_t i = 0; i < N * C; ++i)
    ASSERT_NEAR(dxf[i], dxd[i], 1e-5) << rng.tag();
  for (int64_t c = 0; c < C; ++c)
    ASSERT_NEAR(dwf[c], dwd[c], 1e-5) << rng.tag();
}

} // namespace
} // namespace glm3d::cpu
