#pragma once
// A learnable synthetic blank-infilling task for tests and the first quickstart.
// Text is a run of consecutive token ids (start random, +1 each, wrapping inside
// [first_word, vocab)); two spans of 3 tokens are cut out and replaced by [MASK]
// in Part A; Part B holds <sop> + span for each span, targets span + <eop>, with
// GLM's 2D positions. Predicting a span needs the token before its [MASK] (via
// attention from Part B to Part A) and then "+1" within the span: learnable by
// `tiny` in a few hundred steps. Sample k is a pure function of (seed, k).
#include "data/sample.h"

#include <cstdint>

namespace glm3d {

class SyntheticTask final : public SampleSource {
public:
  // Reserved ids in this task: 0 <pad>, 1 [MASK], 2 [gMASK], 3 <sop>, 4 <eop>, 5 <eos>.
  static constexpr int32_t kPad = 0, kMask = 1, kSop = 3, kEop = 4, kFirstWord = 8;
  static constexpr int kSpans = 2, kSpanLen = 3;
  static constexpr int kTargetsPerSample = kSpans * (kSpanLen + 1); // each span and its <eop>
  SyntheticTask(int64_t seq_len, int64_t vocab, uint64_t seed);
  int64_t seq_len() const override { return seq_; }
  int64_t vocab_size() const override { return vocab_; }
  Sample get(int64_t k) override;

private:
  int64_t seq_, vocab_;
  uint64_t seed_;
};

} // namespace glm3d
