// Sampling (infer/sampling.h) against hand-made distributions: Hugging Face's temperature,
// top-k (ties kept) and top-p (cumulative mass <= 1 - p removed) in HF's order, the draw's
// frequencies, and the counter-based key (seed, sequence, step).
#include "infer/sampling.h"

#include "gradcheck.h"
#include "usage_error.h"

#include <cmath>
#include <gtest/gtest.h>
#include <set>

namespace glm3d::test {
namespace {

// Probabilities 0.05 0.30 0.10 0.25 0.20 0.10 as logits (log p: softmax gives p back).
std::vector<float> hand_logits() {
  std::vector<float> l;
  for (double p : {0.05, 0.30, 0.10, 0.25, 0.20, 0.10})
    l.push_back(float(std::log(p)));
  return l;
}

std::set<int> kept(const SamplingOptions& o) {
  std::vector<float> s = hand_logits();
  warp_scores(s.data(), int64_t(s.size()), o);
  std::set<int> k;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] != -INFINITY)
      k.insert(int(i));
  return k;
}

SamplingOptions opts(double temperature, int64_t top_k, double top_p) {
  SamplingOptions o;
  o.temperature = temperature, o.top_k = top_k, o.top_p = top_p;
  return o;
}

TEST(Sampling, TopKKeepsTheKLargestAndTheirTies) {
  EXPECT_EQ(kept(opts(1, 3, 1)), (std::set<int>{1, 3, 4}));
  EXPECT_EQ(kept(opts(1, 4, 1)), (std::set<int>{1, 2, 3, 4, 5})); // the 4th largest, 0.10, is tied
  EXPECT_EQ(kept(opts(1, 0, 1)), (std::set<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(kept(opts(1, 60, 1)), (std::set<int>{0, 1, 2, 3, 4, 5}));
}

// Ascending 0.05 0.10 0.10 0.20 0.25 0.30, cumulative 0.05 0.15 0.25 0.45 0.70 1.
TEST(Sampling, TopPRemovesTheTailUpToOneMinusP) {
  EXPECT_EQ(kept(opts(1, 0, 0.7)), (std::set<int>{1, 3, 4}));       // 1 - p = 0.3: 0.25 removed, 0.45 kept
  EXPECT_EQ(kept(opts(1, 0, 0.5)), (std::set<int>{1, 3}));          // 1 - p = 0.5: 0.45 removed
  EXPECT_EQ(kept(opts(1, 0, 0.9)), (std::set<int>{1, 2, 3, 4, 5})); // 1 - p = 0.1: only 0.05 removed
  EXPECT_EQ(kept(opts(1, 0, 0.01)), (std::set<int>{1}));            // the largest always stays
}

// HF's order is temperature, top-k, top-p. Temperature 0.5 squares the probabilities
// (0.0116 0.4186 0.0465 0.2907 0.1860 0.0465): top-p 0.7 then keeps {1, 3}; top-p on the raw
// probabilities would keep {1, 3, 4}. Top-k 2 first leaves 0.30 and 0.25 (0.545, 0.455 after
// renormalising): top-p 0.5 then keeps {1} only; top-p first would keep {1, 3}.
TEST(Sampling, WarpersRunInHuggingFaceOrder) {
  EXPECT_EQ(kept(opts(0.5, 0, 0.7)), (std::set<int>{1, 3}));
  EXPECT_EQ(kept(opts(1, 2, 0.5)), (std::set<int>{1}));
  std::vector<float> s = hand_logits();
  warp_scores(s.data(), 6, opts(2.0, 0, 1));
  EXPECT_FLOAT_EQ(s[1], float(std::log(0.30) / 2.0)); // scores / temperature
}

// Greedy: the first of equal maxima (torch.argmax).
TEST(Sampling, GreedyTakesTheFirstLargest) {
  SamplingOptions o;
  o.greedy = true;
  const std::vector<float> l = {0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(next_token(l.data(), 4, o, 7, 3), 1);
}

// The draws of one sequence over 20000 steps follow the warped distribution (top-k 3:
// 0.30 0.25 0.20 renormalised to 0.4 0.333 0.267) within 4.5 standard deviations; removed
// tokens never appear.
TEST(Sampling, DrawsFollowTheWarpedDistribution) {
  SeededRng rng;
  SamplingOptions o = opts(1, 3, 1);
  o.seed = rng.seed();
  const std::vector<float> l = hand_logits();
  const int64_t N = 20000;
  std::vector<int64_t> count(6, 0);
  for (int64_t step = 0; step < N; ++step)
    ++count[size_t(next_token(l.data(), 6, o, 5, uint64_t(step)))];
  const double want[6] = {0, 0.4, 0, 0.25 / 0.75, 0.2 / 0.75, 0};
  for (int i = 0; i < 6; ++i) {
    const double f = double(count[size_t(i)]) / N, sd = std::sqrt(want[i] * (1 - want[i]) / N);
    EXPECT_NEAR(f, want[i], 4.5 * sd + 1e-12) << rng.tag() << " token " << i;
  }
}

// The draw is a function of (seed, sequence, step) only; sequences and seeds have their own streams.
TEST(Sampling, DrawsAreKeyedBySeedSequenceAndStep) {
  SamplingOptions o = opts(1, 0, 1);
  o.seed = 11;
  const std::vector<float> l = hand_logits();
  int differ_seq = 0, differ_seed = 0;
  for (uint64_t step = 0; step < 200; ++step) {
    const int32_t t = next_token(l.data(), 6, o, 3, step);
    EXPECT_EQ(t, next_token(l.data(), 6, o, 3, step));
    EXPECT_EQ(sampling_uniform(11, 3, step), sampling_uniform(11, 3, step));
    differ_seq += t != next_token(l.data(), 6, o, 4, step);
    SamplingOptions other = o;
    other.seed = 12;
    differ_seed += t != next_token(l.data(), 6, other, 3, step);
  }
  EXPECT_GT(differ_seq, 50);
  EXPECT_GT(differ_seed, 50);
}

TEST(Sampling, BadOptionsAreUsageErrors) {
  EXPECT_NE(usage_error_of([] { validate(opts(0, 0, 1)); }).find("--temperature"), std::string::npos);
  EXPECT_NE(usage_error_of([] { validate(opts(1, -1, 1)); }).find("--top-k"), std::string::npos);
  EXPECT_NE(usage_error_of([] { validate(opts(1, 0, 0)); }).find("--top-p"), std::string::npos);
  EXPECT_NE(usage_error_of([] { validate(opts(1, 0, 1.5)); }).find("--top-p"), std::string::npos);
}

} // namespace
} // namespace glm3d::test
