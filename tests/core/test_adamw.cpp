// AdamW: two steps against numbers computed by hand, with and without weight decay, and f32 vs f64.
#include "core/check.h"
#include "core/cpu/adamw.h"
#include "gradcheck.h"

#include <cmath>
#include <gtest/gtest.h>
#include <vector>

namespace glm3d::cpu {
namespace {

// lr 0.1, beta1 0.9, beta2 0.95, eps 1e-8, wd 0.1; p = 1, g1 = 0.5, g2 = -0.25.
// Step 1: m = 0.05, v = 0.0125, m^ = 0.5, v^ = 0.25,
//   p = 1 * (1 - 0.01) - 0.1 * 0.5 / (0.5 + 1e-8) = 0.89000000199999996...
// Step 2: m = 0.9*0.05 + 0.1*(-0.25) = 0.02, v = 0.95*0.0125 + 0.05*0.0625 = 0.015,
//   m^ = 0.02 / 0.19, v^ = 0.015 / 0.0975,
//   p = p1 * 0.99 - 0.1 * m^ / (sqrt(v^) + 1e-8) = 0.85426305785582739... (40-digit decimal arithmetic)
TEST(AdamW, TwoStepsMatchHandComputedValues) {
  AdamWHyper h;
  h.lr = 0.1, h.beta1 = 0.9, h.beta2 = 0.95, h.eps = 1e-8, h.weight_decay = 0.1;
  double p = 1.0, m = 0.0, v = 0.0, g = 0.5;
  adamw_update<double>(&p, &g, &m, &v, 1, h, 1, true);
  EXPECT_NEAR(m, 0.05, 1e-16);
  EXPECT_NEAR(v, 0.0125, 1e-16);
  EXPECT_NEAR(p, 0.89000000199999996, 1e-15);
  g = -0.25;
  adamw_update<double>(&p, &g, &m, &v, 1, h, 2, true);
  EXPECT_NEAR(m, 0.02, 1e-16);
  EXPECT_NEAR(v, 0.015, 1e-16);
  EXPECT_NEAR(p, 0.85426305785582739, 1e-15);
}

// apply_wd = false: step 1 gives p = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.90000000199999996.
// Clipping fused into the update: grad_scale s gives the bits of an update on gradients scaled
// by s beforehand (the product grad * float(s) is the same), and leaves the gradients alone.
TEST(AdamW, GradScaleEqualsPrescaledGradientsBitForBit) {
  test::SeededRng rng;
  const int64_t n = 1003;
  const auto g = rng.uniform_vec<float>(n), p0 = rng.uniform_vec<float>(n);
  const double s = 0.3137;
  std::vector<float> scaled(g), p1(p0), m1(size_t(n), 0.f), v1(size_t(n), 0.f), p2(p0), m2(m1), v2(v1);
  for (float& x : scaled)
    x *= float(s);
  AdamWHyper h;
  adamw_update<float>(p1.data(), scaled.data(), m1.data(), v1.data(), n, h, 3, true);
  h.grad_scale = s;
  const std::vector<float> g_before(g);
  adamw_update<float>(p2.data(), g.data(), m2.data(), v2.data(), n, h, 3, true);
  EXPECT_EQ(p1, p2);
  EXPECT_EQ(m1, m2);
  EXPECT_EQ(v1, v2);
  EXPECT_EQ(g, g_before);
  EXPECT_NE(p1, p0); // the update moved the weights
}

TEST(AdamW, NoWeightDecayWhenNotApplied) {
  AdamWHyper h;
  h.lr = 0.1, h.beta1 = 0.9, h.beta2 = 0.95, h.eps = 1e-8, h.weight_decay = 0.1;
  double p[2] = {1.0, 1.0}, m[2] = {}, v[2] = {}, g[2] = {0.5, 0.5};
  adamw_update<double>(p, g, m, v, 2, h, 1, false);
  EXPECT_NEAR(p[0], 0.90000000199999996, 1e-15);
  EXPECT_EQ(p[0], p[1]);
  // zero gradient and no decay: the parameter does not move
  double q = 3.0, mq = 0, vq = 0, gq = 0;
  adamw_update<double>(&q, &gq, &mq, &vq, 1, h, 1, false);
  EXPECT_EQ(q, 3.0);
  adamw_update<double>(&q, &gq, &mq, &vq, 1, h, 2, true); // decay only: q (1 - lr wd)
  EXPECT_NEAR(q, 3.0 * 0.99, 1e-15);
  EXPECT_THROW(adamw_update<double>(&q, &gq, &mq, &vq, 1, h, 0, true), Error); // steps are 1-based
}

// f32 vs f64 over three steps with random values: each update is a few f32 operations on
// O(1) numbers; the update size is ~lr, so 1e-6 absolute is ~10 u of the parameter.
TEST(AdamW, F32MatchesF64) {
  test::SeededRng rng;
  const int64_t n = 100;
  AdamWHyper h; // defaults: lr 1e-4, wd 0.1
  h.lr = 1e-2;
  auto pd = rng.uniform_vec<double>(n);
  for (auto& e : pd)
    e = double(float(e));
  std::vector<float> pf(pd.begin(), pd.end()), mf(n, 0.0f), vf(n, 0.0f);
  std::vector<double> md(n, 0.0), vd(n, 0.0);
  for (int64_t step = 1; step <= 3; ++step) {
    auto gd = rng.uniform_vec<double>(n);
    for (auto& e : gd)
      e = double(float(e));
    std::vector<float> gf(gd.begin(), gd.end());
    adamw_update<double>(pd.data(), gd.data(), md.data(), vd.data(), n, h, step, true);
    adamw_update<float>(pf.data(), gf.data(), mf.data(), vf.data(), n, h, step, true);
  }
  for (int64_t i = 0; i < n; ++i)
    EXPECT_NEAR(pf[i], pd[i], 1e-6) << rng.tag();
}

} // namespace
} // namespace glm3d::cpu
