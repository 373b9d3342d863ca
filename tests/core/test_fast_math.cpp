// The vectorisable f32 exp and tanh hold the accuracy core/cpu/fast_math.h promises, on a
// dense grid against the f64 library functions.
#include "core/cpu/fast_math.h"

#include <cmath>
#include <gtest/gtest.h>

namespace glm3d::cpu {
namespace {

TEST(FastMath, ExpWithinTwoUlpOnItsRange) {
  double worst = 0;
  for (double x = -87.0; x <= 88.0; x += 1.0 / 4096) {
    const float xf = float(x);
    const double want = std::exp(double(xf));
    worst = std::max(worst, std::abs(double(exp_f32(xf)) - want) / want);
  }
  EXPECT_LT(worst, 2.5e-7); // 2 ulp of f32 = 2 * 2^-23 ~ 2.4e-7
  EXPECT_EQ(exp_f32(0.0f), 1.0f);
}

TEST(FastMath, TanhWithinAbsoluteBound) {
  double worst = 0;
  for (double u = -12.0; u <= 12.0; u += 1.0 / 8192) {
    const float uf = float(u);
    worst = std::max(worst, std::abs(double(tanh_f32(uf)) - std::tanh(double(uf))));
  }
  EXPECT_LT(worst, 1.2e-7);
  EXPECT_EQ(tanh_f32(50.0f), 1.0f);
  EXPECT_EQ(tanh_f32(-50.0f), -1.0f);
}

} // namespace
} // namespace glm3d::cpu
