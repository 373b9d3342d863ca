// ChatGLM2/3 rotary embedding (half-interleaved) on strided q, k views of a packed
// [Q | K | V] buffer: identity at position 0, hand-computed rotations, the reference code's
// formula, relative positions, the untouched parts, backward.
#include "core/cpu/head_view.h"
#include "core/cpu/rope.h"
#include "gradcheck.h"

#include <cmath>
#include <gtest/gtest.h>

namespace glm3d::cpu {
namespace {

using test::SeededRng;

constexpr double kBase = 10000.0;

struct Packed {
  int64_t B, S, nh, ng, hd;
  int64_t size() const { return B * S * (nh + 2 * ng) * hd; }
  template <class T> void forward(std::vector<T>& buf, const std::vector<int32_t>& pos) const {
    const QkvView<T> v = packed_qkv(buf.data(), nh, ng, hd);
    rope_interleaved_forward<T>(v.q, nh, v.k, ng, pos.data(), B, S, hd, kBase);
  }
  template <class T> void backward(std::vector<T>& buf, const std::vector<int32_t>& pos) const {
    const QkvView<T> v = packed_qkv(buf.data(), nh, ng, hd);
    rope_interleaved_backward<T>(v.q, nh, v.k, ng, pos.data(), B, S, hd, kBase);
  }
};

// hd 8: rot 4, pairs (0, 1) with theta 1 and (2, 3) with theta 10000^(-2/4) = 0.01; dims 4..7
// pass. Position 1 on (1, 0, 1, 0, ...) gives (cos 1, sin 1, cos .01, sin .01); position 2 on
// (0, 1, 0, 1, ...) gives (-sin 2, cos 2, -sin .02, cos .02) (values from Python's math).
TEST(RopeInterleaved, HandComputedRotations) {
  const Packed P{1, 3, 1, 1, 8};
  std::vector<double> x(P.size(), 0.0);
  const double q[3][8] = {{1, 2, 3, 4, 5, 6, 7, 8}, {1, 0, 1, 0, 5, 6, 7, 8}, {0, 1, 0, 1, 5, 6, 7, 8}};
  for (int s = 0; s < 3; ++s)
    for (int d = 0; d < 8; ++d)
      x[s * 24 + d] = q[s][d], x[s * 24 + 8 + d] = q[s][d]; // q and k of token s
  P.forward(x, {0, 1, 2});
  const double want[3][8] = {
      {1, 2, 3, 4, 5, 6, 7, 8},
      {0.5403023058681398, 0.8414709848078965, 0.9999500004166653, 0.009999833334166664, 5, 6, 7, 8},
      {-0.9092974268256817, -0.4161468365471424, -0.01999866669333308, 0.9998000066665778, 5, 6, 7, 8}};
  for (int s = 0; s < 3; ++s)
    for (int d = 0; d < 8; ++d) {
      EXPECT_NEAR(x[s * 24 + d], want[s][d], 1e-15) << "q token " << s << " dim " << d;
      EXPECT_NEAR(x[s * 24 + 8 + d], want[s][d], 1e-15) << "k token " << s << " dim " << d;
      EXPECT_EQ(x[s * 24 + 16 + d], 0.0) << "v token " << s;
    }
}

// apply_rotary_pos_emb of ChatGLM2's modeling_chatglm.py, written out: the cache of
// RotaryEmbedding(dim = hd / 2) holds (cos, sin) of pos * theta_i, theta_i =
// 1 / base^(2i / dim); x[..., :rot] is viewed as [rot / 2, 2] pairs and
// (x0 c - x1 s, x1 c + x0 s) stacked back, the rest concatenated. Every q head and k group
// rotates, v and the second half of each head stay bit for bit.
template <class T> void check_reference_formula(double tol) {
  SeededRng rng;
  const Packed P{2, 5, 4, 2, 16};
  std::vector<int32_t> pos(P.B * P.S);
  for (auto& p : pos)
    p = int32_t(rng.integer(0, 4000));
  auto x0 = rng.uniform_vec<double>(P.size(), -2, 2);
  for (auto& e : x0)
    e = double(T(e));
  std::vector<T> x(x0.begin(), x0.end());
  P.forward(x, pos);
  const int64_t rot = P.hd / 2, W = (P.nh + 2 * P.ng) * P.hd;
  for (int64_t t = 0; t < P.B * P.S; ++t)
    for (int64_t h = 0; h < P.nh + 2 * P.ng; ++h) {
      const double* in = x0.data() + t * W + h * P.hd;
      const T* out = x.data() + t * W + h * P.hd;
      const bool rotated = h < P.nh + P.ng; // q heads, then k groups
      for (int64_t i = 0; i < P.hd / 2; ++i) {
        double want0 = in[2 * i], want1 = in[2 * i + 1];
        if (rotated && 2 * i < rot) {
          const double theta = 1.0 / std::pow(kBase, double(2 * i) / double(rot)), a = pos[t] * theta;
          want0 = in[2 * i] * std::cos(a) - in[2 * i + 1] * std::sin(a);
          want1 = in[2 * i + 1] * std::cos(a) + in[2 * i] * std::sin(a);
        }
        if (rotated && 2 * i < rot) {
          ASSERT_NEAR(out[2 * i], want0, tol) << "token " << t << " head " << h << " " << rng.tag();
          ASSERT_NEAR(out[2 * i + 1], want1, tol) << "token " << t << " head " << h << " " << rng.tag();
        } else {
          ASSERT_EQ(out[2 * i], T(want0)) << "token " << t << " head " << h;
          ASSERT_EQ(out[2 * i + 1], T(want1)) << "token " << t << " head " << h;
        }
      }
    }
}

TEST(RopeInterleaved, MatchesTheReferenceFormulaF64) {
  check_reference_formula<double>(1e-12); // angles up to 4000 rad: cos/sin of the f64 argument
}
// f32: cos and sin in f64 rounded to f32 (u each), two products and a sum of |x| <= 2: 4 u 2 |x| ~ 1e-6.
TEST(RopeInterleaved, MatchesTheReferenceFormulaF32) {
  check_reference_formula<float>(1e-6);
}

// <rope(q, p + d), rope(k, p)> depends on d only (the rotated pairs turn by the same angles).
TEST(RopeInterleaved, DotProductDependsOnRelativePosition) {
  SeededRng rng;
  const Packed P{1, 1, 1, 1, 32};
  const auto x0 = rng.uniform_vec<double>(P.size());
  auto dot_at = [&](int32_t pq, int32_t pk) {
    std::vector<double> a = x0, b = x0;
    P.forward(a, {pq});
    P.forward(b, {pk});
    double s = 0;
    for (int64_t d = 0; d < P.hd; ++d)
      s += a[d] * b[P.hd + d]; // q of a, k of b
    return s;
  };
  for (int32_t d : {0, 3, 50}) {
    const double ref = dot_at(d, 0);
    for (int32_t p : {1, 17, 1000})
      EXPECT_NEAR(dot_at(p + d, p), ref, 1e-12) << "d=" << d << " p=" << p << " " << rng.tag();
  }
}

// Backward is the inverse rotation: backward(forward(x)) = x, and as the map is linear its
// gradient of sum(R * rope(x)) is backward(R): checked by finite differences (bound 1e-6
// relative, floor 1e-2: see gradcheck.h).
TEST(RopeInterleaved, BackwardIsTheInverseAndMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const Packed P{2, 3, 2, 1, 8};
  std::vector<int32_t> pos(P.B * P.S);
  for (auto& p : pos)
    p = int32_t(rng.integer(0, 100));
  auto x = rng.uniform_vec<double>(P.size()), R = rng.uniform_vec<double>(P.size());
  auto y = x;
  P.forward(y, pos);
  P.backward(y, pos);
  for (int64_t i = 0; i < P.size(); ++i)
    ASSERT_NEAR(y[i], x[i], 1e-15) << rng.tag();
  auto g = R;
  P.backward(g, pos);
  auto loss = [&] {
    auto r = x;
    P.forward(r, pos);
    return test::weighted_sum(r.data(), R.data(), P.size());
  };
  const auto res = test::gradcheck(loss, x.data(), P.size(), g.data());
  EXPECT_LT(res.max_rel, 1e-6) << res.str() << " " << rng.tag();
}

} // namespace
} // namespace glm3d::cpu
