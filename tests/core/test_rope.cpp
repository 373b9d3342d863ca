// Rotary embedding: a rotation (norms kept), position 0 is the identity, the 2D form rotates
// the two halves by the two position ids, relative-position property, and backward.
#include "core/check.h"
#include "core/cpu/rope.h"
#include "gradcheck.h"

#include <cmath>
#include <gtest/gtest.h>

namespace glm3d::cpu {
namespace {

using test::SeededRng;

constexpr double kBase = 10000.0;

int64_t at(int64_t S, int64_t nh, int64_t hd, int64_t b, int64_t s, int64_t h, int64_t which, int64_t d) {
  return (((b * S + s) * nh + h) * 3 + which) * hd + d;
}

TEST(Rope, PositionZeroIsIdentityAndVIsUntouched) {
  SeededRng rng;
  const int64_t B = 2, S = 3, nh = 2, hd = 8;
  auto x = rng.uniform_vec<double>(B * S * nh * 3 * hd), x0 = x;
  std::vector<int32_t> zero(B * S, 0);
  rope_forward<double>(x.data(), zero.data(), nullptr, B, S, nh, hd, kBase);
  EXPECT_EQ(x, x0);
  rope_forward<double>(x.data(), zero.data(), zero.data(), B, S, nh, hd, kBase);
  EXPECT_EQ(x, x0);
  std::vector<int32_t> pos(B * S), bpos(B * S);
  for (auto& p : pos)
    p = int32_t(rng.integer(1, 50));
  for (auto& p : bpos)
    p = int32_t(rng.integer(1, 50));
  rope_forward<double>(x.data(), pos.data(), bpos.data(), B, S, nh, hd, kBase);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t h = 0; h < nh; ++h)
        for (int64_t d = 0; d < hd; ++d) {
          const int64_t v = at(S, nh, hd, b, s, h, 2, d);
          ASSERT_EQ(x[v], x0[v]) << "v was rotated";
        }
}

// Each pair (i, i + d/2) of a rotated part is rotated by p * base^(-2i/d): its norm is kept and
// the rotated values equal the closed form. In 2D the first half uses pos, the second block_pos.
TEST(Rope, OneAndTwoDimensionalRotationClosedForm) {
  SeededRng rng;
  const int64_t B = 1, S = 4, nh = 3, hd = 16;
  for (bool two_d : {false, true}) {
    auto x = rng.uniform_vec<double>(B * S * nh * 3 * hd), x0 = x;
    std::vector<int32_t> pos(S), bpos(S);
    for (auto& p : pos)
      p = int32_t(rng.integer(0, 100));
    for (auto& p : bpos)
      p = int32_t(rng.integer(0, 100));
    rope_forward<double>(x.data(), pos.data(), two_d ? bpos.data() : nullptr, B, S, nh, hd, kBase);
    const int64_t d = two_d ? hd / 2 : hd;
    for (int64_t s = 0; s < S; ++s)
      for (int64_t h = 0; h < nh; ++h)
        for (int which = 0; which < 2; ++which)
          for (int part = 0; part < (two_d ? 2 : 1); ++part) {
            const double p = part == 0 ? pos[s] : bpos[s];
            for (int64_t i = 0; i < d / 2; ++i) {
              const int64_t i1 = at(S, nh, hd, 0, s, h, which, part * d + i), i2 = i1 + d / 2;
              const double t = p * std::pow(kBase, -2.0 * double(i) / double(d));
              EXPECT_NEAR(x[i1], x0[i1] * std::cos(t) - x0[i2] * std::sin(t), 1e-14) << rng.tag();
              EXPECT_NEAR(x[i2], x0[i2] * std::cos(t) + x0[i1] * std::sin(t), 1e-14) << rng.tag();
              EXPECT_NEAR(std::hypot(x[i1], x[i2]), std::hypot(x0[i1], x0[i2]), 1e-14) << rng.tag();
            }
          }
  }
}

// In 2D, changing block_pos must leave the first half untouched, and pos the second half.
TEST(Rope, TwoDimensionalHalvesAreIndependent) {
  SeededRng rng;
  const int64_t S = 1, nh = 1, hd = 8;
  auto x = rng.uniform_vec<double>(3 * hd);
  auto a = x, b = x;
  const int32_t p = 7, bp1 = 2, bp2 = 9;
  rope_forward<double>(a.data(), &p, &bp1, 1, S, nh, hd, kBase);
  rope_forward<double>(b.data(), &p, &bp2, 1, S, nh, hd, kBase);
  for (int which = 0; which < 2; ++which) {
    for (int64_t d = 0; d < hd / 2; ++d)
      EXPECT_EQ(a[which * hd + d], b[which * hd + d]);
    for (int64_t d = hd / 2; d < hd; ++d)
      EXPECT_NE(a[which * hd + d], b[which * hd + d]);
  }
}

// The defining RoPE property: q(m) . k(n) depends only on m - n (per rotated part).
TEST(Rope, DotProductDependsOnlyOnRelativePosition) {
  SeededRng rng;
  const int64_t hd = 32;
  auto x = rng.uniform_vec<double>(3 * hd);
  auto qk_dot = [&](int32_t m, int32_t n) {
    auto q = x, k = x;
    rope_forward<double>(q.data(), &m, nullptr, 1, 1, 1, hd, kBase);
    rope_forward<double>(k.data(), &n, nullptr, 1, 1, 1, hd, kBase);
    double s = 0;
    for (int64_t d = 0; d < hd; ++d)
      s += q[d] * k[hd + d];
    return s;
  };
  EXPECT_NEAR(qk_dot(5, 3), qk_dot(107, 105), 1e-12) << rng.tag();
  EXPECT_NEAR(qk_dot(0, 11), qk_dot(20, 31), 1e-12) << rng.tag();
  EXPECT_GT(std::abs(qk_dot(5, 3) - qk_dot(5, 4)), 1e-6) << rng.tag();
}

// Bound 1e-6 relative (floor 1e-2): see gradcheck.h. The loss is linear in x, so the
// difference quotient is exact up to rounding.
TEST(Rope, BackwardMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const int64_t B = 2, S = 3, nh = 2, hd = 8, n = B * S * nh * 3 * hd;
  for (bool two_d : {false, true}) {
    auto x = rng.uniform_vec<double>(n), R = rng.uniform_vec<double>(n);
    std::vector<int32_t> pos(B * S), bpos(B * S);
    for (auto& p : pos)
      p = int32_t(rng.integer(0, 30));
    for (auto& p : bpos)
      p = int32_t(rng.integer(0, 30));
    const int32_t* bp = two_d ? bpos.data() : nullptr;
    std::vector<double> y(n);
    auto loss = [&] {
      y = x;
      rope_forward<double>(y.data(), pos.data(), bp, B, S, nh, hd, kBase);
      return test::weighted_sum(y.data(), R.data(), n);
    };
    auto dx = R;
    rope_backward<double>(dx.data(), pos.data(), bp, B, S, nh, hd, kBase);
    auto r = test::gradcheck(loss, x.data(), n, dx.data());
    EXPECT_LT(r.max_rel, 1e-6) << r.str() << " 2d=" << two_d << " " << rng.tag();
    // backward of forward is the identity (inverse rotation)
    auto z = x;
    rope_forward<double>(z.data(), pos.data(), bp, B, S, nh, hd, kBase);
    rope_backward<double>(z.data(), pos.data(), bp, B, S, nh, hd, kBase);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_NEAR(z[i], x[i], 1e-14);
  }
}

TEST(Rope, F32MatchesF64AndOddHeadDimIsRejected) {
  SeededRng rng;
  const int64_t S = 5, nh = 2, hd = 64, n = S * nh * 3 * hd;
  auto xd = rng.uniform_vec<double>(n);
  for (auto& e : xd)
    e = double(float(e));
  std::vector<float> xf(xd.begin(), xd.end());
  std::vector<int32_t> pos = {0, 1, 100, 1000, 2047}, bpos = {0, 0, 3, 77, 2000};
  rope_forward<double>(xd.data(), pos.data(), bpos.data(), 1, S, nh, hd, kBase);
  rope_forward<float>(xf.data(), pos.data(), bpos.data(), 1, S, nh, hd, kBase);
  // cos/sin are computed in double and rounded once to f32, then two products and a sum: ~4 u.
  for (int64_t i = 0; i < n; ++i)
    ASSERT_NEAR(xf[i], xd[i], 1e-6) << rng.tag();
  double z[3 * 6] = {};
  const int32_t p = 1;
  EXPECT_THROW(rope_forward<double>(z, &p, &p, 1, 1, 1, 6, kBase), Error); // 2D needs hd % 4 == 0
  EXPECT_THROW(rope_forward<double>(z, &p, nullptr, 1, 1, 1, 5, kBase), Error);
}

} // namespace
} // namespace glm3d::cpu
