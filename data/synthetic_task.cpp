#include "data/synthetic_task.h"

#include "core/check.h"
#include "core/philox.h"

#include <algorithm>

namespace glm3d {

SyntheticTask::SyntheticTask(int64_t seq_len, int64_t vocab, uint64_t seed)
    : seq_(seq_len), vocab_(vocab), seed_(seed) {
  GLM3D_USAGE_CHECK(vocab > kFirstWord + 8) << "synthetic task needs a vocab above " << kFirstWord + 8;
  GLM3D_USAGE_CHECK(seq_len >= 4 * kSpans * (kSpanLen + 1))
      << "synthetic task needs seq_len >= " << 4 * kSpans * (kSpanLen + 1);
}

Sample SyntheticTask::get(int64_t k) {
  const uint64_t key = stream_key(seed_, "synthetic-task") ^ (uint64_t(k) * 0x9E3779B97F4A7C15ull);
  uint64_t draw = 0;
  auto uniform_int = [&](int64_t n) { return int64_t(Philox4x32::uniform(key, draw++) * double(n)); };
  const int64_t words = vocab_ - kFirstWord;
  const int64_t part_b = kTargetsPerSample; // every Part B token is a target
  const int64_t part_a = seq_ - part_b;     // includes one [MASK] per span
  const int64_t text_len = part_a - kSpans + kSpans * kSpanLen;
  const int64_t start = uniform_int(words);
  std::vector<int32_t> text(static_cast<size_t>(text_len));
  for (int64_t i = 0; i < text_len; ++i)
    text[size_t(i)] = int32_t(kFirstWord + (start + i) % words);
  // Two non-overlapping spans, not adjacent, never at the very start (a [MASK] at 0
  // would leave no left neighbour to read).
  const int64_t slot = (text_len - 1) / kSpans;
  std::vector<int64_t> span_start(static_cast<size_t>(kSpans));
  for (int s = 0; s < kSpans; ++s)
    span_start[size_t(s)] = 1 + s * slot + uniform_int(slot - kSpanLen - 1);
  Sample out;
  out.kind = -1;
  for (int64_t i = 0, s = 0; i < text_len;) {
    if (s < kSpans && i == span_start[size_t(s)]) {
      out.tokens.push_back(kMask);
      i += kSpanLen;
      ++s;
    } else {
      out.tokens.push_back(text[size_t(i++)]);
    }
  }
  GLM3D_CHECK(int64_t(out.tokens.size()) == part_a) << "synthetic Part A length";
  out.sep = int32_t(part_a);
  for (int64_t i = 0; i < part_a; ++i)
    out.position_ids.push_back(int32_t(i));
  out.block_position_ids.assign(size_t(part_a), 0);
  out.targets.assign(size_t(part_a), kPad);
  out.loss_mask.assign(size_t(part_a), 0);
  // Part B in shuffled span order.
  std::vector<int> order(kSpans);
  for (int s = 0; s < kSpans; ++s)
    order[size_t(s)] = s;
  if (uniform_int(2))
    std::reverse(order.begin(), order.end());
  for (int s : order) {
    // The [MASK] of span s sits at Part A index span_start - s*(kSpanLen-1).
    const int32_t mask_pos = int32_t(span_start[size_t(s)] - s * (kSpanLen - 1));
    for (int j = 0; j <= kSpanLen; ++j) {
      out.tokens.push_back(j == 0 ? kSop : text[size_t(span_start[size_t(s)] + j - 1)]);
      out.targets.push_back(j == kSpanLen ? kEop : text[size_t(span_start[size_t(s)] + j)]);
      out.position_ids.push_back(mask_pos);
      out.block_position_ids.push_back(int32_t(j + 1));
      out.loss_mask.push_back(1);
    }
  }
  return out;
}

} // namespace glm3d
