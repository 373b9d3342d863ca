// GLM blank-infilling collator: hand-worked layouts with exact ids, and statistics over
// 10,000 samples at seq 2048 (masked fraction, span lengths, mixture, no leak into Part A).
#include "core/check.h"
#include "data/glm_collator.h"
#include "data/rng.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>

namespace glm3d {
namespace {

// Ids of this test's own vocabulary (the library reads them from a tokenizer).
SpecialTokens test_specials() {
  SpecialTokens s;
  s.pad = 0, s.eos = 2, s.mask = 3, s.gmask = 4, s.smask = 5, s.sop = 6, s.eop = 7;
  return s;
}

using V = std::vector<int32_t>;
using M = std::vector<uint8_t>;

TEST(Collator, HandWorkedMaskTwoSpansShuffled) {
  const GlmCollator c(16, test_specials(), {}, CollatorOptions{});
  std::vector<uint32_t> w(14);
  for (uint32_t i = 0; i < 14; ++i)
    w[i] = 100 + i;
  CollatePlan p;
  p.kind = k_kind_mask;
  p.content_len = 10;
  p.spans = {{2, 4}, {6, 7}}; // "102 103" and "106"
  p.order = {1, 0};           // Part B: second span first
  const Sample s = c.build(w.data(), p);
  EXPECT_EQ(s.sep, 9);
  EXPECT_EQ(s.kind, 0);
  EXPECT_EQ(s.tokens, (V{100, 101, 3, 104, 105, 3, 107, 108, 109, 6, 106, 6, 102, 103, 0, 0}));
  EXPECT_EQ(s.targets, (V{0, 0, 0, 0, 0, 0, 0, 0, 0, 106, 7, 102, 103, 7, 0, 0}));
  EXPECT_EQ(s.position_ids, (V{0, 1, 2, 3, 4, 5, 6, 7, 8, 5, 5, 2, 2, 2, 0, 0}));
  EXPECT_EQ(s.block_position_ids, (V{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 2, 3, 0, 0}));
  EXPECT_EQ(s.loss_mask, (M{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0}));
}

TEST(Collator, HandWorkedGMask) {
  const GlmCollator c(10, test_specials(), {}, CollatorOptions{});
  const std::vector<uint32_t> w = {50, 51, 52, 53, 54, 55, 56, 57};
  CollatePlan p;
  p.kind = k_kind_gmask;
  p.content_len = 8;
  p.spans = {{5, 8}};
  p.order = {0};
  const Sample s = c.build(w.data(), p);
  EXPECT_EQ(s.sep, 6);
  EXPECT_EQ(s.kind, 1);
  EXPECT_EQ(s.tokens, (V{50, 51, 52, 53, 54, 4, 6, 55, 56, 57}));
  EXPECT_EQ(s.targets, (V{0, 0, 0, 0, 0, 0, 55, 56, 57, 7}));
  EXPECT_EQ(s.position_ids, (V{0, 1, 2, 3, 4, 5, 5, 5, 5, 5}));
  EXPECT_EQ(s.block_position_ids, (V{0, 0, 0, 0, 0, 0, 1, 2, 3, 4}));
  EXPECT_EQ(s.loss_mask, (M{0, 0, 0, 0, 0, 0, 1, 1, 1, 1}));
}

TEST(Collator, HandWorkedSMaskAdjacentSentencesAndDroppedTail) {
  const GlmCollator c(12, test_specials(), {}, CollatorOptions{});
  // 99 ends a sentence. Window of 10; two spans -> content 8, the last two tokens dropped.
  const std::vector<uint32_t> w = {10, 11, 99, 12, 99, 13, 14, 99, 15, 16};
  CollatePlan p;
  p.kind = k_kind_smask;
  p.content_len = 8;
  p.spans = {{0, 3}, {3, 5}};
  p.order = {0, 1};
  const Sample s = c.build(w.data(), p);
  EXPECT_EQ(s.sep, 5);
  EXPECT_EQ(s.tokens, (V{5, 5, 13, 14, 99, 6, 10, 11, 99, 6, 12, 99}));
  EXPECT_EQ(s.targets, (V{0, 0, 0, 0, 0, 10, 11, 99, 7, 12, 99, 7}));
  EXPECT_EQ(s.position_ids, (V{0, 1, 2, 3, 4, 0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(s.block_position_ids, (V{0, 0, 0, 0, 0, 1, 2, 3, 4, 1, 2, 3}));
  EXPECT_EQ(s.loss_mask, (M{0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1}));
}

TEST(Collator, RejectsPlansThatDoNotFit) {
  const GlmCollator c(12, test_specials(), {}, CollatorOptions{});
  const std::vector<uint32_t> w(10, 20);
  CollatePlan p;
  p.kind = k_kind_mask;
  p.content_len = 10; // 10 + 2*2 > 12
  p.spans = {{0, 1}, {3, 4}};
  p.order = {0, 1};
  EXPECT_THROW(c.build(w.data(), p), Error);
}

TEST(Collator, OptionsValidated) {
  CollatorOptions o;
  o.mask_ratio = 0.5; // 0.5 + 0.7 != 1
  EXPECT_THROW(GlmCollator(64, test_specials(), {}, o), UsageError);
  EXPECT_THROW(GlmCollator(4, test_specials(), {}, CollatorOptions{}), UsageError);
}

TEST(Collator, PlanIsAPureFunctionOfSeedAndIndex) {
  const GlmCollator c(256, test_specials(), {}, CollatorOptions{});
  std::vector<uint32_t> w(254, 42);
  const Sample a = c.collate(w.data(), 7, 123), b = c.collate(w.data(), 7, 123);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.position_ids, b.position_ids);
  int differ = 0;
  for (int64_t k = 0; k < 20; ++k)
    differ += c.plan(w.data(), 7, k).spans.size() != c.plan(w.data(), 8, k).spans.size() ||
              c.plan(w.data(), 7, k).spans[0].start != c.plan(w.data(), 8, k).spans[0].start;
  EXPECT_GT(differ, 10);
}

// Splices Part B back into Part A at the mask positions and returns the content it encodes;
// checks the Part B layout on the way. A sample that leaked a target into Part A, dropped or
// duplicated a token would not reproduce the window.
std::vector<int32_t> reconstruct(const Sample& s, const SpecialTokens& sp, int32_t mask_token) {
  std::map<int32_t, std::vector<int32_t>> spans; // mask position -> span tokens
  const int64_t S = int64_t(s.tokens.size());
  int64_t i = s.sep;
  while (i < S && s.loss_mask[size_t(i)]) {
    EXPECT_EQ(s.tokens[size_t(i)], sp.sop);
    const int32_t at = s.position_ids[size_t(i)];
    EXPECT_LT(at, s.sep);
    EXPECT_EQ(s.tokens[size_t(at)], mask_token);
    std::vector<int32_t> span;
    int32_t b = 1;
    for (;; ++i, ++b) {
      EXPECT_EQ(s.block_position_ids[size_t(i)], b);
      EXPECT_EQ(s.position_ids[size_t(i)], at);
      if (s.targets[size_t(i)] == sp.eop)
        break;
      span.push_back(s.targets[size_t(i)]);
      EXPECT_EQ(s.tokens[size_t(i) + 1], s.targets[size_t(i)]); // teacher forcing: next input = target
    }
    ++i;
    EXPECT_TRUE(spans.emplace(at, span).second);
  }
  for (; i < S; ++i) { // padding
    EXPECT_EQ(s.tokens[size_t(i)], sp.pad);
    EXPECT_EQ(s.loss_mask[size_t(i)], 0);
  }
  std::vector<int32_t> out;
  for (int32_t p = 0; p < s.sep; ++p) {
    EXPECT_EQ(s.loss_mask[size_t(p)], 0);
    EXPECT_EQ(s.block_position_ids[size_t(p)], 0);
    EXPECT_EQ(s.position_ids[size_t(p)], p);
    if (s.tokens[size_t(p)] == mask_token) {
      EXPECT_TRUE(spans.count(p));
      out.insert(out.end(), spans[p].begin(), spans[p].end());
      spans.erase(p);
    } else {
      out.push_back(s.tokens[size_t(p)]);
    }
  }
  EXPECT_TRUE(spans.empty());
  return out;
}

// Expected mean of Poisson(lambda) restricted to 1..max (computed here from the pmf formula).
double truncated_poisson_mean(double lambda, int max) {
  double num = 0, den = 0;
  for (int l = 1; l <= max; ++l) {
    const double p = std::exp(-lambda + l * std::log(lambda) - std::lgamma(l + 1.0));
    num += l * p;
    den += p;
  }
  return num / den;
}

struct Stats {
  int64_t n = 0, kinds[3] = {0, 0, 0};
  double mask_frac_sum = 0, gmask_frac_sum = 0, gmask_frac_min = 1;
  int64_t spans = 0, span_tokens = 0, smask_spans = 0, smask_whole_sentences = 0;
  double smask_frac_sum = 0;
};

Stats run_stats(const CollatorOptions& o, int64_t n, bool sentences) {
  const int64_t S = 2048;
  const SpecialTokens sp = test_specials();
  std::vector<uint8_t> ends(1000, 0);
  if (sentences)
    ends[999] = 1; // token 999 ends a sentence
  const GlmCollator c(S, sp, ends, o);
  Stats st;
  std::vector<uint32_t> w(size_t(c.window_len()));
  for (int64_t k = 0; k < n; ++k) {
    KeyedRng r(99, uint64_t(k));
    for (auto& t : w)
      t = sentences && r.below(20) == 0 ? 999 : 8 + uint32_t(r.below(990));
    const CollatePlan p = c.plan(w.data(), 5, k);
    const Sample s = c.build(w.data(), p);
    ++st.n;
    ++st.kinds[s.kind];
    int64_t masked = 0;
    for (const Span& x : p.spans)
      masked += x.end - x.start;
    const double frac = double(masked) / double(p.content_len);
    // Every token of the used content comes back exactly once, in order.
    const int32_t mt = s.kind == 0 ? sp.mask : s.kind == 1 ? sp.gmask : sp.smask;
    const std::vector<int32_t> back = reconstruct(s, sp, mt);
    EXPECT_EQ(back, std::vector<int32_t>(w.begin(), w.begin() + p.content_len)) << "sample " << k;
    // No token of a masked span is an input of Part A (by position in the window).
    std::vector<uint8_t> in_span(size_t(p.content_len), 0);
    for (const Span& x : p.spans)
      for (int64_t t = x.start; t < x.end; ++t)
        in_span[size_t(t)] = 1;
    int64_t wpos = 0, sp_i = 0, hidden_in_a = 0;
    for (int32_t pa = 0; pa < s.sep; ++pa) {
      if (sp_i < int64_t(p.spans.size()) && wpos == p.spans[size_t(sp_i)].start) {
        wpos = p.spans[size_t(sp_i++)].end;
        continue;
      }
      hidden_in_a += in_span[size_t(wpos++)];
    }
    EXPECT_EQ(hidden_in_a, 0);
    EXPECT_EQ(int64_t(s.tokens.size()), S);
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

TEST(CollatorStats, DefaultMixtureOver10000Samples) {
  const CollatorOptions o; // 30% [MASK], 70% [gMASK], lambda 3, 15%
  const Stats st = run_stats(o, 10000, false);
  EXPECT_NEAR(double(st.kinds[0]) / double(st.n), 0.30, 0.02);
  EXPECT_NEAR(double(st.kinds[1]) / double(st.n), 0.70, 0.02);
  EXPECT_EQ(st.kinds[2], 0);
  EXPECT_NEAR(st.mask_frac_sum / double(st.kinds[0]), 0.15, 0.01);
  const double expected_span = truncated_poisson_mean(3.0, 39);
  EXPECT_NEAR(double(st.span_tokens) / double(st.spans), expected_span, 0.05 * expected_span);
  // gMASK: masked suffix uniform in [20%, 100%) of the window -> mean 60%, never below 20%.
  EXPECT_GE(st.gmask_frac_min, 0.2);
  EXPECT_NEAR(st.gmask_frac_sum / double(st.kinds[1]), 0.6, 0.01);
  std::printf(
      "mask %.4f gmask %.4f | masked fraction %.4f | mean span %.4f (expected %.4f) | gmask frac %.4f\n",
      double(st.kinds[0]) / double(st.n), double(st.kinds[1]) / double(st.n),
      st.mask_frac_sum / double(st.kinds[0]), double(st.span_tokens) / double(st.spans), expected_span,
      st.gmask_frac_sum / double(st.kinds[1]));
}

TEST(CollatorStats, ConfiguredMixtureWithSentencesAndLambda) {
  CollatorOptions o;
  o.mask_ratio = 0.2, o.gmask_ratio = 0.5, o.smask_ratio = 0.3, o.poisson_lambda = 5.0;
  const Stats st = run_stats(o, 10000, true);
  EXPECT_NEAR(double(st.kinds[0]) / double(st.n), 0.2, 0.02);
  EXPECT_NEAR(double(st.kinds[1]) / double(st.n), 0.5, 0.02);
  EXPECT_NEAR(double(st.kinds[2]) / double(st.n), 0.3, 0.02);
  const double expected_span = truncated_poisson_mean(5.0, 39);
  EXPECT_NEAR(double(st.span_tokens) / double(st.spans), expected_span, 0.05 * expected_span);
  // [sMASK]: every span is whole sentences; together they cover at least 15% (a sentence
  // averages 20 tokens, so the overshoot stays small).
  EXPECT_EQ(st.smask_whole_sentences, st.smask_spans);
  EXPECT_GT(st.smask_spans, 0);
  EXPECT_NEAR(st.smask_frac_sum / double(st.kinds[2]), 0.15, 0.01);
  std::printf("mask %.4f gmask %.4f smask %.4f | mean span %.4f (expected %.4f) | smask fraction %.4f\n",
              double(st.kinds[0]) / double(st.n), double(st.kinds[1]) / double(st.n),
              double(st.kinds[2]) / double(st.n), double(st.span_tokens) / double(st.spans), expected_span,
              st.smask_frac_sum / double(st.kinds[2]));
}

TEST(Collator, ShortSequencesStillFit) {
  // seq 16: spans are clamped so Part A + Part B always fit.
  CollatorOptions o;
  o.mask_ratio = 1.0, o.gmask_ratio = 0.0;
  const GlmCollator c(16, test_specials(), {}, o);
  std::vector<uint32_t> w(14);
  for (uint32_t i = 0; i < 14; ++i)
    w[i] = 20 + i;
  for (int64_t k = 0; k < 500; ++k) {
    const CollatePlan p = c.plan(w.data(), 1, k);
    const Sample s = c.build(w.data(), p);
    EXPECT_EQ(reconstruct(s, test_specials(), 3), std::vector<int32_t>(w.begin(), w.begin() + p.content_len));
  }
}

} // namespace
} // namespace glm3d
