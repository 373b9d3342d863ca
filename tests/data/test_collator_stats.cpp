// GLM collator statistics at seq 2048, each with a fixed seed (printed) and goodness-of-fit
// tests at significance p = 0.001 (Pearson's chi-square; critical values are the 0.999
// quantiles of chi-square with df degrees of freedom: df 1 10.828, df 2 13.816, df 10 29.588,
// df 14 36.123, df 19 43.820):
// - [MASK] span lengths against Poisson(lambda) restricted to 1..max_span_length and
//   renormalised (the collator's truncation rule), plus the mean over all spans within 1%;
// - the [gMASK] masked length against the discrete uniform on [ceil(0.2 c), c - 1];
// - the mixture of sample kinds against the configured ratios;
// - masked fractions, whole sentences for [sMASK], every sample rebuilding its window.
#include "collator_fixture.h"
#include "data/glm_collator.h"
#include "data/rng.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace glm3d {
namespace {

using test::reconstruct;
using test::test_specials;

constexpr int64_t k_seq = 2048;
constexpr uint64_t k_seed = 5; // the collator seed of every test here

// Poisson(lambda) restricted to 1..max and renormalised, computed here from the formula:
// pmf[l] for l in 0..max (pmf[0] = 0).
std::vector<double> truncated_poisson(double lambda, int max) {
  std::vector<double> pmf(size_t(max) + 1, 0.0);
  double total = 0;
  for (int l = 1; l <= max; ++l)
    total += pmf[size_t(l)] = std::exp(-lambda + l * std::log(lambda) - std::lgamma(l + 1.0));
  for (double& p : pmf)
    p /= total;
  return pmf;
}

// Pearson's statistic sum (O - E)^2 / E of counts against probabilities (summing to 1).
double chi_square(const std::vector<int64_t>& observed, const std::vector<double>& prob) {
  int64_t n = 0;
  for (int64_t o : observed)
    n += o;
  double x = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    const double e = prob[i] * double(n);
    x += (double(observed[i]) - e) * (double(observed[i]) - e) / e;
  }
  return x;
}

// [MASK] spans over n all-[MASK] samples. The spans of one sample are drawn until they cover
// 15% of the content, so their lengths within a sample are not independent draws; the first
// span of each sample is (the collator places spans left to right in draw order, and sample
// k's randomness is keyed by k alone). Its histogram, bins 1..last-1 and a tail bin >= last,
// is tested against the truncated pmf with df = last - 1. Over all spans the mean is still
// unbiased (Wald's identity for a stopping rule), so it must be within 1%.
void expect_poisson_span_lengths(double lambda, int last, double critical) {
  CollatorOptions o;
  o.mask_ratio = 1.0, o.gmask_ratio = 0.0, o.poisson_lambda = lambda;
  const GlmCollator c(k_seq, test_specials(), {}, o);
  const std::vector<uint32_t> w(size_t(c.window_len()), 8);
  const int64_t n = 100000;
  std::vector<int64_t> first(size_t(last), 0); // [0, last-2]: lengths 1..last-1; [last-1]: >= last
  int64_t spans = 0, span_tokens = 0;
  for (int64_t k = 0; k < n; ++k) {
    const CollatePlan p = c.plan(w.data(), k_seed, k);
    ASSERT_EQ(p.kind, k_kind_mask);
    const int64_t len0 = p.spans[0].end - p.spans[0].start;
    ++first[size_t(std::min<int64_t>(len0, last) - 1)];
    for (const Span& s : p.spans)
      ++spans, span_tokens += s.end - s.start;
  }
  const std::vector<double> pmf = truncated_poisson(lambda, o.max_span_length);
  std::vector<double> prob(size_t(last), 0.0);
  for (int l = 1; l <= o.max_span_length; ++l)
    prob[size_t(std::min(l, last) - 1)] += pmf[size_t(l)];
  const double x = chi_square(first, prob);
  double mean = 0;
  for (int l = 1; l <= o.max_span_length; ++l)
    mean += l * pmf[size_t(l)];
  const double got = double(span_tokens) / double(spans);
  std::printf("lambda %.1f, seed %llu: first-span chi-square %.3f (df %d, critical %.3f at p = 0.001); mean "
              "span %.5f over %lld spans (expected %.5f)\n",
              lambda, (unsigned long long)k_seed, x, last - 1, critical, got, (long long)spans, mean);
  EXPECT_LT(x, critical);
  EXPECT_NEAR(got, mean, 0.01 * mean);
}

TEST(CollatorStats, SpanLengthsArePoisson3Truncated) {
  expect_poisson_span_lengths(3.0, 11, 29.588); // tail >= 11 expects 31 of 100,000
}

TEST(CollatorStats, SpanLengthsArePoisson5Truncated) {
  expect_poisson_span_lengths(5.0, 15, 36.123); // tail >= 15 expects 23 of 100,000
}

TEST(CollatorStats, GMaskLengthIsUniform) {
  CollatorOptions o;
  o.mask_ratio = 0.0, o.gmask_ratio = 1.0;
  const GlmCollator c(k_seq, test_specials(), {}, o);
  const std::vector<uint32_t> w(size_t(c.window_len()), 8);
  const int64_t content = c.window_len(), n = 100000;
  const int64_t lo = int64_t(std::ceil(o.gmask_min_fraction * double(content))), hi = content - 1;
  std::vector<int64_t> count(size_t(content) + 1, 0);
  for (int64_t k = 0; k < n; ++k) {
    const CollatePlan p = c.plan(w.data(), k_seed, k);
    ASSERT_EQ(p.kind, k_kind_gmask);
    ASSERT_EQ(p.spans.size(), 1u);
    ASSERT_EQ(p.spans[0].end, content); // a suffix of the whole window
    const int64_t len = p.spans[0].end - p.spans[0].start;
    ASSERT_GE(len, lo);
    ASSERT_LE(len, hi);
    ++count[size_t(len)];
  }
  // Each of the 1636 lengths expects 61 draws: all of them, the end points included, appear.
  for (int64_t len = lo; len <= hi; ++len)
    EXPECT_GT(count[size_t(len)], 0) << "length " << len << " never drawn";
  const int bins = 20;
  std::vector<int64_t> observed(bins, 0);
  std::vector<double> prob(bins, 0.0);
  const int64_t values = hi - lo + 1;
  for (int b = 0; b < bins; ++b) {
    const int64_t b0 = lo + values * b / bins, b1 = lo + values * (b + 1) / bins;
    for (int64_t len = b0; len < b1; ++len)
      observed[size_t(b)] += count[size_t(len)];
    prob[size_t(b)] = double(b1 - b0) / double(values);
  }
  const double x = chi_square(observed, prob);
  std::printf(
      "gMASK length in [%lld, %lld], seed %llu: chi-square %.3f (df 19, critical 43.820 at p = 0.001)\n",
      (long long)lo, (long long)hi, (unsigned long long)k_seed, x);
  EXPECT_LT(x, 43.820);
}

struct Stats {
  int64_t n = 0;
  std::vector<int64_t> kinds = std::vector<int64_t>(3, 0);
  double mask_frac_sum = 0, gmask_frac_sum = 0, gmask_frac_min = 1;
  int64_t spans = 0, span_tokens = 0, smask_spans = 0, smask_whole_sentences = 0;
  double smask_frac_sum = 0;
};

// n collated samples of random windows (with sentence ends when `sentences`); every sample
// must rebuild the content it used.
Stats run_stats(const CollatorOptions& o, int64_t n, bool sentences) {
  const SpecialTokens sp = test_specials();
  std::vector<uint8_t> ends(1000, 0);
  if (sentences)
    ends[999] = 1; // token 999 ends a sentence
  const GlmCollator c(k_seq, sp, ends, o);
  Stats st;
  std::vector<uint32_t> w(size_t(c.window_len()));
  for (int64_t k = 0; k < n; ++k) {
    KeyedRng r(99, uint64_t(k));
    for (auto& t : w)
      t = sentences && r.below(20) == 0 ? 999 : 8 + uint32_t(r.below(990));
    const CollatePlan p = c.plan(w.data(), k_seed, k);
    const Sample s = c.build(w.data(), p);
    ++st.n;
    ++st.kinds[size_t(s.kind)];
    int64_t masked = 0;
    for (const Span& x : p.spans)
      masked += x.end - x.start;
    const double frac = double(masked) / double(p.content_len);
    // Every token of the used content comes back exactly once, in order.
    const int32_t mt = s.kind == 0 ? sp.mask : s.kind == 1 ? sp.gmask : sp.smask;
    EXPECT_EQ(reconstruct(s, sp, mt), std::vector<int32_t>(w.begin(), w.begin() + p.content_len))
        << "sample " << k;
    EXPECT_EQ(int64_t(s.tokens.size()), k_seq);
    if (s.kind == 0) {
      st.mask_frac_sum += frac;
      EXPECT_GE(masked, int64_t(std::ceil(0.15 * double(p.content_len))));
      st.spans += int64_t(p.spans.size());
      st.span_tokens += masked;
    } else if (s.kind == 1) {
      st.gmask_frac_sum += frac;
      st.gmask_frac_min = std::min(st.gmask_frac_min, frac);
    } else {
      st.smask_frac_sum += frac;
      for (const Span& x : p.spans) {
        ++st.smask_spans;
        const bool starts = x.start == 0 || w[size_t(x.start - 1)] == 999;
        const bool ends_ok = w[size_t(x.end - 1)] == 999 || x.end == c.window_len();
        st.smask_whole_sentences += starts && ends_ok;
      }
    }
  }
  return st;
}

double span_mean(double lambda, int max) {
  const std::vector<double> pmf = truncated_poisson(lambda, max);
  double mean = 0;
  for (size_t l = 0; l < pmf.size(); ++l)
    mean += double(l) * pmf[l];
  return mean;
}

void print_stats(const Stats& st, double kinds_x, const char* critical, double expected_span) {
  auto share = [&](int kind) { return double(st.kinds[size_t(kind)]) / double(st.n); };
  auto mean = [&](double sum, int kind) {
    return st.kinds[size_t(kind)] ? sum / double(st.kinds[size_t(kind)]) : 0.0;
  };
  std::printf("seed %llu: kinds %.4f %.4f %.4f (chi-square %.3f, %s) | [MASK] fraction %.4f, mean span %.4f "
              "(expected %.4f) | [gMASK] fraction %.4f | [sMASK] fraction %.4f\n",
              (unsigned long long)k_seed, share(0), share(1), share(2), kinds_x, critical,
              mean(st.mask_frac_sum, 0), double(st.span_tokens) / double(st.spans), expected_span,
              mean(st.gmask_frac_sum, 1), mean(st.smask_frac_sum, 2));
}

TEST(CollatorStats, DefaultMixtureOver10000Samples) {
  const CollatorOptions o; // 30% [MASK], 70% [gMASK], lambda 3, 15%
  const Stats st = run_stats(o, 10000, false);
  EXPECT_EQ(st.kinds[2], 0);
  const double kinds_x = chi_square({st.kinds[0], st.kinds[1]}, {0.3, 0.7});
  EXPECT_LT(kinds_x, 10.828); // df 1
  EXPECT_NEAR(st.mask_frac_sum / double(st.kinds[0]), 0.15, 0.01);
  const double expected_span = span_mean(3.0, 39);
  EXPECT_NEAR(double(st.span_tokens) / double(st.spans), expected_span, 0.01 * expected_span);
  // gMASK: masked suffix uniform in [20%, 100%) of the window -> mean 60%, never below 20%.
  EXPECT_GE(st.gmask_frac_min, 0.2);
  EXPECT_NEAR(st.gmask_frac_sum / double(st.kinds[1]), 0.6, 0.01);
  print_stats(st, kinds_x, "df 1, critical 10.828", expected_span);
}

TEST(CollatorStats, ConfiguredMixtureWithSentencesAndLambda) {
  CollatorOptions o;
  o.mask_ratio = 0.2, o.gmask_ratio = 0.5, o.smask_ratio = 0.3, o.poisson_lambda = 5.0;
  const Stats st = run_stats(o, 10000, true);
  const double kinds_x = chi_square(st.kinds, {0.2, 0.5, 0.3});
  EXPECT_LT(kinds_x, 13.816); // df 2
  const double expected_span = span_mean(5.0, 39);
  EXPECT_NEAR(double(st.span_tokens) / double(st.spans), expected_span, 0.01 * expected_span);
  // [sMASK]: every span is whole sentences; together they cover at least 15% (a sentence
  // averages 20 tokens, so the overshoot stays small).
  EXPECT_EQ(st.smask_whole_sentences, st.smask_spans);
  EXPECT_GT(st.smask_spans, 0);
  EXPECT_NEAR(st.smask_frac_sum / double(st.kinds[2]), 0.15, 0.01);
  print_stats(st, kinds_x, "df 2, critical 13.816", expected_span);
}

} // namespace
} // namespace glm3d
