// LayerNorm: forward against a naive f64 formula, f32 against f64, backward by finite differences.
#include "core/cpu/layernorm.h"
#include "gradcheck.h"

#include <cmath>
#include <gtest/gtest.h>

namespace glm3d::cpu {
namespace {

using test::SeededRng;

TEST(LayerNorm, ForwardMatchesTheDefinition) {
  SeededRng rng;
  const int64_t N = 9, C = 37;
  const double eps = 1e-5;
  auto x = rng.uniform_vec<double>(N * C, -3, 5), g = rng.uniform_vec<double>(C),
       b = rng.uniform_vec<double>(C);
  std::vector<double> y(N * C), mean(N), rstd(N);
  test::poison(y.data(), N * C);
  test::poison(mean.data(), N);
  test::poison(rstd.data(), N);
  layernorm_forward<double>(x.data(), g.data(), b.data(), y.data(), mean.data(), rstd.data(), N, C, eps);
  for (int64_t n = 0; n < N; ++n) {
    double mu = 0, var = 0;
    for (int64_t c = 0; c < C; ++c)
      mu += x[n * C + c] / C;
    for (int64_t c = 0; c < C; ++c)
      var += (x[n * C + c] - mu) * (x[n * C + c] - mu) / C;
    const double rs = 1 / std::sqrt(var + eps);
    EXPECT_NEAR(mean[n], mu, 1e-13) << rng.tag();
    EXPECT_NEAR(rstd[n], rs, 1e-12 * rs) << rng.tag();
    for (int64_t c = 0; c < C; ++c)
      ASSERT_NEAR(y[n * C + c], (x[n * C + c] - mu) * rs * g[c] + b[c], 1e-12) << rng.tag();
  }
  // with gamma = 1, beta = 0 each row has mean 0 and variance var / (var + eps) ~ 1
  std::vector<double> ones(C, 1.0), zeros(C, 0.0);
  layernorm_forward<double>(x.data(), ones.data(), zeros.data(), y.data(), mean.data(), rstd.data(), N, C,
                            0.0);
  for (int64_t n = 0; n < N; ++n) {
    double s = 0, s2 = 0;
    for (int64_t c = 0; c < C; ++c)
      s += y[n * C + c], s2 += y[n * C + c] * y[n * C + c];
    EXPECT_NEAR(s / C, 0.0, 1e-13);
    EXPECT_NEAR(s2 / C, 1.0, 1e-12);
  }
}

// Bound 1e-6 relative (floor 1e-2): see gradcheck.h; h = 1e-6 leaves ~1e-9 absolute error.
TEST(LayerNorm, BackwardMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const int64_t N = 4, C = 11;
  const double eps = 1e-5;
  auto x = rng.uniform_vec<double>(N * C, -2, 2), g = rng.uniform_vec<double>(C, 0.5, 1.5);
  auto b = rng.uniform_vec<double>(C), R = rng.uniform_vec<double>(N * C);
  std::vector<double> y(N * C), mean(N), rstd(N);
  auto loss = [&] {
    layernorm_forward<double>(x.data(), g.data(), b.data(), y.data(), mean.data(), rstd.data(), N, C, eps);
    return test::weighted_sum(y.data(), R.data(), N * C);
  };
  loss();
  std::vector<double> dx(N * C);
  test::poison(dx.data(), N * C);
  auto dg0 = rng.uniform_vec<double>(C), db0 = rng.uniform_vec<double>(C);
  auto dg = dg0, db = db0;
  layernorm_backward<double>(R.data(), x.data(), g.data(), mean.data(), rstd.data(), dx.data(), dg.data(),
                             db.data(), N, C, false);
  for (int64_t c = 0; c < C; ++c)
    dg[c] -= dg0[c], db[c] -= db0[c]; // parameter grads accumulate
  auto rx = test::gradcheck(loss, x.data(), N * C, dx.data());
  EXPECT_LT(rx.max_rel, 1e-6) << "dx " << rx.str() << " " << rng.tag();
  auto rg = test::gradcheck(loss, g.data(), C, dg.data());
  EXPECT_LT(rg.max_rel, 1e-6) << "dgamma " << rg.str() << " " << rng.tag();
  auto rb = test::gradcheck(loss, b.data(), C, db.data());
  EXPECT_LT(rb.max_rel, 1e-6) << "dbeta " << rb.str() << " " << rng.tag();

  auto dx0 = rng.uniform_vec<double>(N * C), dxa = dx0; // accumulate_dx adds
  layernorm_backward<double>(R.data(), x.data(), g.data(), mean.data(), rstd.data(), dxa.data(), dg.data(),
                             db.data(), N, C, true);
  for (int64_t i = 0; i < N * C; ++i)
    EXPECT_NEAR(dxa[i], dx0[i] + dx[i], 1e-13);
}

// The f32 path keeps row statistics in double, so each output carries only a few f32
// roundings of O(1) values: 1e-5 absolute is ~100 u for |y| <= ~3.
TEST(LayerNorm, F32MatchesF64) {
  SeededRng rng;
  const int64_t N = 16, C = 256;
  auto xd = rng.uniform_vec<double>(N * C, -2, 2), gd = rng.uniform_vec<double>(C),
       bd = rng.uniform_vec<double>(C);
  auto dyd = rng.uniform_vec<double>(N * C);
  for (auto* v : {&xd, &gd, &bd, &dyd})
    for (auto& e : *v)
      e = double(float(e));
  std::vector<float> xf(xd.begin(), xd.end()), gf(gd.begin(), gd.end()), bf(bd.begin(), bd.end()),
      dyf(dyd.begin(), dyd.end());
  std::vector<double> yd(N * C), md(N), rd(N), dxd(N * C), dgd(C, 0.0), dbd(C, 0.0);
  std::vector<float> yf(N * C), mf(N), rf(N), dxf(N * C), dgf(C, 0.0f), dbf(C, 0.0f);
  layernorm_forward<double>(xd.data(), gd.data(), bd.data(), yd.data(), md.data(), rd.data(), N, C, 1e-5);
  layernorm_forward<float>(xf.data(), gf.data(), bf.data(), yf.data(), mf.data(), rf.data(), N, C, 1e-5);
  layernorm_backward<double>(dyd.data(), xd.data(), gd.data(), md.data(), rd.data(), dxd.data(), dgd.data(),
                             dbd.data(), N, C, false);
  layernorm_backward<float>(dyf.data(), xf.data(), gf.data(), mf.data(), rf.data(), dxf.data(), dgf.data(),
                            dbf.data(), N, C, false);
  for (int64_t i = 0; i < N * C; ++i)
    ASSERT_NEAR(yf[i], yd[i], 1e-5) << rng.tag();
  for (int64_t i = 0; i < N * C; ++i)
    ASSERT_NEAR(dxf[i], dxd[i], 1e-5) << rng.tag();
  for (int64_t c = 0; c < C; ++c) {
    ASSERT_NEAR(dgf[c], dgd[c], 1e-5) << rng.tag();
    ASSERT_NEAR(dbf[c], dbd[c], 1e-5) << rng.tag();
  }
}

} // namespace
} // namespace glm3d::cpu
