#pragma once
// The GLM blank-infilling collator: a raw token window -> one Sample (data/sample.h).
//
//   Part A: the window with each masked span replaced by one mask token; position ids 0..sep-1,
//           block position ids 0. sep = Part A length.
//   Part B: for each span (shuffled order): inputs <sop> s1..sn, targets s1..sn <eop>, position
//           ids all equal to the span's mask position in Part A, block position ids 1..n+1,
//           loss_mask 1. Then <pad> (targets <pad>, loss_mask 0, positions 0) up to seq_len.
//
// Kinds, drawn per sample (default mixture as GLM-130B: 30% [MASK], 70% [gMASK]):
//   [MASK]  span lengths ~ Poisson(lambda) truncated to 1..max_span_length, drawn until they
//           cover mask_fraction of the content; placed uniformly without overlap, >= 1 token apart.
//   [gMASK] keep a prefix, mask the rest; masked length uniform in
//           [ceil(gmask_min_fraction * content), content - 1].
//   [sMASK] whole sentences (ending in . ! ? 。 ！ ？ or <eos>) in random order until they cover
//           mask_fraction of the content.
//
// Length rule: a window holds seq_len - 2 raw tokens. A sample with m spans needs
// content + 2m positions (one mask per span in A, one <sop>/<eop> per span in B), so it uses
// only the first content = seq_len - 2m tokens of the window and drops the tail (as GLM-130B
// does). [gMASK] (m = 1) uses the whole window. For [MASK], the stopping rule is evaluated
// against the content that remains with the spans drawn so far: stop at the first m with
// sum(lengths) >= ceil(mask_fraction * (seq_len - 2m)).
#include "data/rng.h"
#include "data/sample.h"
#include "data/tokenizer.h"

#include <cstdint>
#include <vector>

namespace glm3d {

struct CollatorOptions {
  double mask_ratio = 0.3, gmask_ratio = 0.7, smask_ratio = 0.0; // per-sample mixture, sums to 1
  double poisson_lambda = 3.0;                                   // [MASK] span length distribution
  double mask_fraction = 0.15;     // [MASK] / [sMASK]: masked fraction of the content
  double gmask_min_fraction = 0.2; // [gMASK]: the masked suffix is at least this fraction
  int max_span_length = 39;        // Poisson truncated to 1..max_span_length (GLM: range(1, 40))
};

// UsageError naming the option when a value is out of range.
void validate_collator_options(const CollatorOptions& o);

enum SampleKind : int { k_kind_mask = 0, k_kind_gmask = 1, k_kind_smask = 2 };

struct Span {
  int64_t start = 0, end = 0; // [start, end) in the raw window
};

// What the collator decided for one sample, before building it.
struct CollatePlan {
  int kind = k_kind_mask;
  int64_t content_len = 0; // raw tokens used (the rest of the window is dropped)
  std::vector<Span> spans; // sorted by start, non-overlapping, inside [0, content_len)
  std::vector<int> order;  // Part B order: indices into spans
};

class GlmCollator {
public:
  // sentence_end: [vocab] 1 where a token ends a sentence (Tokenizer::sentence_end_table());
  // empty means no sentence boundaries ([sMASK] then falls back to [MASK]).
  GlmCollator(int64_t seq_len, const SpecialTokens& special, std::vector<uint8_t> sentence_end,
              const CollatorOptions& opts);

  int64_t seq_len() const { return seq_len_; }
  int64_t window_len() const { return seq_len_ - 2; } // raw tokens per window

  // window: [window_len()] raw tokens. Randomness keyed by (seed, k) only.
  CollatePlan plan(const uint32_t* window, uint64_t seed, int64_t k) const;
  Sample collate(const uint32_t* window, uint64_t seed, int64_t k) const {
    return build(window, plan(window, seed, k));
  }
  // The deterministic part: lays out Part A and Part B for an explicit plan.
  Sample build(const uint32_t* window, const CollatePlan& plan) const;

  // Truncated span-length pmf: pmf[l] for l in 0..max_span_length (pmf[0] = 0), sums to 1.
  const std::vector<double>& span_pmf() const { return pmf_; }

private:
  int64_t draw_span_length(KeyedRng& rng) const;
  bool plan_mask(KeyedRng& rng, CollatePlan& p) const;
  bool plan_smask(const uint32_t* window, KeyedRng& rng, CollatePlan& p) const;
  void plan_gmask(KeyedRng& rng, CollatePlan& p) const;

  int64_t seq_len_;
  SpecialTokens special_;
  std::vector<uint8_t> sentence_end_;
  CollatorOptions opts_;
  std::vector<double> pmf_, cdf_;
};

} // namespace glm3d
