// GLM attention: the mask (Part A bidirectional, Part B causal), a naive reference,
// f32 vs f64, and backward by finite differences.
#include "core/cpu/attention.h"
#include "gradcheck.h"

#include <cmath>
#include <gtest/gtest.h>

namespace glm3d::cpu {
namespace {

using test::SeededRng;

struct Dims {
  int64_t B, S, nh, hd;
  int64_t qkv() const { return B * S * nh * 3 * hd; }
  int64_t out() const { return B * S * nh * hd; }
  int64_t probs() const { return B * nh * S * S; }
  int64_t at(int64_t b, int64_t s, int64_t h, int64_t which, int64_t d) const {
    return (((b * S + s) * nh + h) * 3 + which) * hd + d;
  }
};

// Straightforward reference: the full S x S score matrix with -inf where masked.
void naive_attention(const Dims& D, const std::vector<double>& qkv, const std::vector<int32_t>& sep,
                     std::vector<double>& out, std::vector<double>& probs) {
  out.assign(D.out(), 0.0);
  probs.assign(D.probs(), 0.0);
  for (int64_t b = 0; b < D.B; ++b)
    for (int64_t h = 0; h < D.nh; ++h)
      for (int64_t i = 0; i < D.S; ++i) {
        std::vector<double> s(D.S);
        double mx = -INFINITY;
        for (int64_t j = 0; j < D.S; ++j) {
          const bool visible = j < sep[b] || j <= i;
          double dot = 0;
          for (int64_t d = 0; d < D.hd; ++d)
            dot += qkv[D.at(b, i, h, 0, d)] * qkv[D.at(b, j, h, 1, d)];
          s[j] = visible ? dot / std::sqrt(double(D.hd)) : -INFINITY;
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (int64_t j = 0; j < D.S; ++j)
          z += std::exp(s[j] - mx);
        for (int64_t j = 0; j < D.S; ++j) {
          const double p = std::exp(s[j] - mx) / z;
          probs[((b * D.nh + h) * D.S + i) * D.S + j] = p;
          for (int64_t d = 0; d < D.hd; ++d)
            out[((b * D.S + i) * D.nh + h) * D.hd + d] += p * qkv[D.at(b, j, h, 2, d)];
        }
      }
}

double f32_attention_bound(int64_t S, int64_t hd);

// f64 runs the reference loops, f32 the oneDNN path; both must match the naive reference and
// give exact zeros on masked keys (probs are poisoned first, so unwritten entries fail).
// f32 tolerance: the bound e of f32_attention_bound below (S = 9, hd = 8: ~4e-6).
template <class T> void check_forward_and_mask(double out_tol, double prob_tol) {
  SeededRng rng;
  const Dims D{3, 9, 2, 8};
  const std::vector<int32_t> sep = {int32_t(rng.integer(1, D.S - 2)), 0, int32_t(D.S)}; // mixed, causal, full
  auto qkvd = rng.uniform_vec<double>(D.qkv(), -2, 2);
  for (auto& e : qkvd)
    e = double(T(e));
  std::vector<T> qkv(qkvd.begin(), qkvd.end()), out(D.out()), probs(D.probs());
  std::vector<double> ref_out, ref_probs;
  test::poison(out.data(), D.out());
  test::poison(probs.data(), D.probs());
  glm_attention_forward<T>(qkv.data(), sep.data(), out.data(), probs.data(), D.B, D.S, D.nh, D.hd);
  naive_attention(D, qkvd, sep, ref_out, ref_probs);
  for (int64_t i = 0; i < D.out(); ++i)
    ASSERT_NEAR(out[i], ref_out[i], out_tol) << rng.tag();
  for (int64_t i = 0; i < D.probs(); ++i)
    ASSERT_NEAR(probs[i], ref_probs[i], prob_tol) << rng.tag();
  for (int64_t b = 0; b < D.B; ++b)
    for (int64_t h = 0; h < D.nh; ++h)
      for (int64_t i = 0; i < D.S; ++i)
        for (int64_t j = 0; j < D.S; ++j) {
          const T p = probs[((b * D.nh + h) * D.S + i) * D.S + j];
          if (j >= sep[b] && j > i) {
            ASSERT_EQ(p, T(0)) << "b=" << b << " i=" << i << " j=" << j << " sep=" << sep[b] << " "
                               << rng.tag();
          } else {
            ASSERT_GT(p, T(0)) << "b=" << b << " i=" << i << " j=" << j << " sep=" << sep[b] << " "
                               << rng.tag();
          }
        }
}

TEST(Attention, ForwardMatchesNaiveAndMaskIsExactF64) {
  check_forward_and_mask<double>(1e-13, 1e-14);
}
TEST(Attention, ForwardMatchesNaiveAndMaskIsExactF32) {
  check_forward_and_mask<float>(f32_attention_bound(9, 8), f32_attention_bound(9, 8));
}

// Changing the key and value of a masked position must leave every query that cannot see
// it bit-for-bit unchanged, and must change a query that can.
template <class T> void check_masked_key_perturbation() {
  SeededRng rng;
  const Dims D{1, 8, 2, 4};
  const int32_t sep[1] = {3}; // Part A = positions 0..2
  std::vector<T> qkv(D.qkv());
  rng.fill_uniform(qkv.data(), D.qkv());
  std::vector<T> out0(D.out()), out1(D.out()), probs(D.probs());
  glm_attention_forward<T>(qkv.data(), sep, out0.data(), probs.data(), D.B, D.S, D.nh, D.hd);
  const int64_t j = 5; // a Part B key: visible only to queries i >= 5
  for (int64_t h = 0; h < D.nh; ++h)
    for (int64_t d = 0; d < D.hd; ++d) {
      qkv[D.at(0, j, h, 1, d)] += T(3.0);
      qkv[D.at(0, j, h, 2, d)] -= T(5.0);
    }
  glm_attention_forward<T>(qkv.data(), sep, out1.data(), probs.data(), D.B, D.S, D.nh, D.hd);
  for (int64_t i = 0; i < D.S; ++i)
    for (int64_t h = 0; h < D.nh; ++h)
      for (int64_t d = 0; d < D.hd; ++d) {
        const int64_t o = (i * D.nh + h) * D.hd + d;
        if (i < j) {
          ASSERT_EQ(out1[o], out0[o]) << "query " << i << " saw masked key " << j << " " << rng.tag();
        } else if (d == 0) {
          EXPECT_NE(out1[o], out0[o]) << "query " << i << " should see key " << j << " " << rng.tag();
        }
      }
}

TEST(Attention, MaskedKeysDoNotInfluenceOutputF64) {
  check_masked_key_perturbation<double>();
}
TEST(Attention, MaskedKeysDoNotInfluenceOutputF32) {
  check_masked_key_perturbation<float>();
}

// Bound 1e-6 relative (floor 1e-2): see gradcheck.h. sep is drawn per run, plus the two
// extreme masks (fully causal, fully bidirectional).
TEST(Attention, BackwardMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const Dims D{3, 6, 2, 4};
  const std::vector<int32_t> sep = {int32_t(rng.integer(1, D.S - 1)), 0, int32_t(D.S)};
  auto qkv = rng.uniform_vec<double>(D.qkv(), -1.5, 1.5), R = rng.uniform_vec<double>(D.out());
  std::vector<double> out(D.out()), probs(D.probs()), dqkv(D.qkv());
  auto loss = [&] {
    glm_attention_forward<double>(qkv.data(), sep.data(), out.data(), probs.data(), D.B, D.S, D.nh, D.hd);
    return test::weighted_sum(out.data(), R.data(), D.out());
  };
  loss();
  test::poison(dqkv.data(), D.qkv());
  glm_attention_backward<double>(R.data(), qkv.data(), probs.data(), sep.data(), dqkv.data(), D.B, D.S, D.nh,
                                 D.hd);
  auto r = test::gradcheck(loss, qkv.data(), D.qkv(), dqkv.data());
  EXPECT_LT(r.max_rel, 1e-6) << r.str() << " sep0=" << sep[0] << " " << rng.tag();
}

// f32 vs f64 with inputs in [-1, 1], u = 2^-24. A score q.k/sqrt(hd) has error
// <= hd u * hd / sqrt(hd) = hd^1.5 u; exp turns it into that much relative error on each weight
// (twice: the row max cancels) and the normalisation adds ~S u, so each probability is within
// e = (2 hd^1.5 + 2 S + 10) u relative, and each output, a convex combination of |v| <= 1 summed
// in S steps, within e absolute. Gradients chain two such products (dp = do.v, then dS K etc.)
// with cancellation in ds = p (dp - p.dp), so they are compared relatively: 4 e of max(1, |ref|).
double f32_attention_bound(int64_t S, int64_t hd) {
  return (2.0 * std::pow(double(hd), 1.5) + 2.0 * double(S) + 10.0) * 0x1p-24;
}

void check_f32_against_f64(const Dims& D) {
  SeededRng rng;
  const double e = f32_attention_bound(D.S, D.hd);
  const std::vector<int32_t> sep = {int32_t(rng.integer(0, D.S)), int32_t(rng.integer(0, D.S))};
  auto qkvd = rng.uniform_vec<double>(D.qkv()), dod = rng.uniform_vec<double>(D.out());
  for (auto* v : {&qkvd, &dod})
    for (auto& e : *v)
      e = double(float(e));
  std::vector<float> qkvf(qkvd.begin(), qkvd.end()), dof(dod.begin(), dod.end());
  std::vector<double> od(D.out()), pd(D.probs()), dd(D.qkv());
  std::vector<float> of(D.out()), pf(D.probs()), df(D.qkv());
  glm_attention_forward<double>(qkvd.data(), sep.data(), od.data(), pd.data(), D.B, D.S, D.nh, D.hd);
  test::poison(of.data(), D.out());
  test::poison(pf.data(), D.probs());
  test::poison(df.data(), D.qkv());
  glm_attention_forward<float>(qkvf.data(), sep.data(), of.data(), pf.data(), D.B, D.S, D.nh, D.hd);
  glm_attention_backward<double>(dod.data(), qkvd.data(), pd.data(), sep.data(), dd.data(), D.B, D.S, D.nh,
                                 D.hd);
  glm_attention_backward<float>(dof.data(), qkvf.data(), pf.data(), sep.data(), df.data(), D.B, D.S, D.nh,
                                D.hd);
  for (int64_t i = 0; i < D.out(); ++i)
    ASSERT_NEAR(of[i], od[i], e) << rng.tag();
  for (int64_t i = 0; i < D.probs(); ++i)
    ASSERT_NEAR(pf[i], pd[i], e) << rng.tag();
  for (int64_t i = 0; i < D.qkv(); ++i)
    ASSERT_NEAR(df[i], dd[i], 4 * e * std::max(1.0, std::abs(dd[i]))) << rng.tag();
}

TEST(Attention, F32MatchesF64) {
  check_f32_against_f64({2, 40, 3, 16});
}

// S x S x 17 heads exceeds the f32 backward's 2^24-float staging buffer, so heads run in
// groups of 15 and then 2: the group offsets are checked too. hd = 4 keeps it cheap.
TEST(Attention, F32BackwardInHeadGroupsMatchesF64) {
  check_f32_against_f64({1, 1030, 17, 4});
}

} // namespace
} // namespace glm3d::cpu
