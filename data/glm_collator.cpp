#include "data/glm_collator.h"

#include "core/check.h"
#include "data/glm_positions.h"
#include "data/rng.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace glm3d {

void validate_collator_options(const CollatorOptions& o) {
  GLM3D_USAGE_CHECK(o.mask_ratio >= 0 && o.gmask_ratio >= 0 && o.smask_ratio >= 0 &&
                    std::abs(o.mask_ratio + o.gmask_ratio + o.smask_ratio - 1.0) < 1e-9)
      << "mask ratios must be non-negative and sum to 1, got mask " << o.mask_ratio << " + gmask "
      << o.gmask_ratio << " + smask " << o.smask_ratio;
  GLM3D_USAGE_CHECK(o.poisson_lambda > 0 && o.poisson_lambda < 100)
      << "poisson lambda must be in (0, 100), got " << o.poisson_lambda;
  GLM3D_USAGE_CHECK(o.mask_fraction > 0 && o.mask_fraction <= 0.5)
      << "mask fraction must be in (0, 0.5], got " << o.mask_fraction;
  GLM3D_USAGE_CHECK(o.gmask_min_fraction > 0 && o.gmask_min_fraction < 1)
      << "gmask min fraction must be in (0, 1), got " << o.gmask_min_fraction;
  GLM3D_USAGE_CHECK(o.max_span_length >= 1 && o.max_span_length <= 1000)
      << "max span length must be in [1, 1000], got " << o.max_span_length;
}

GlmCollator::GlmCollator(int64_t seq_len, const SpecialTokens& special, std::vector<uint8_t> sentence_end,
                         const CollatorOptions& opts)
    : seq_len_(seq_len), special_(special), sentence_end_(std::move(sentence_end)), opts_(opts) {
  validate_collator_options(opts);
  GLM3D_USAGE_CHECK(seq_len >= 8) << "sequence length must be at least 8 for GLM blank infilling, got "
                                  << seq_len;
  // Poisson pmf by the recurrence p(l) = p(l-1) * lambda / l, restricted to 1..max, normalised.
  pmf_.assign(size_t(opts.max_span_length) + 1, 0.0);
  double p = std::exp(-opts.poisson_lambda), total = 0;
  for (int l = 1; l <= opts.max_span_length; ++l) {
    p *= opts.poisson_lambda / l;
    pmf_[size_t(l)] = p;
    total += p;
  }
  cdf_.assign(pmf_.size(), 0.0);
  double acc = 0;
  for (size_t l = 1; l < pmf_.size(); ++l) {
    pmf_[l] /= total;
    acc += pmf_[l];
    cdf_[l] = acc;
  }
  cdf_.back() = 1.0;
}

int64_t GlmCollator::draw_span_length(KeyedRng& rng) const {
  const double u = rng.uniform();
  return int64_t(std::upper_bound(cdf_.begin() + 1, cdf_.end(), u) - cdf_.begin());
}

bool GlmCollator::plan_mask(KeyedRng& rng, CollatePlan& p) const {
  std::vector<int64_t> lens;
  int64_t masked = 0;
  for (;;) {
    const int64_t m = int64_t(lens.size()) + 1;
    const int64_t content = seq_len_ - 2 * m;
    // m spans with m-1 one-token gaps must fit in the content; only short sequences ever clamp.
    const int64_t room = content - masked - (m - 1);
    if (room < 1)
      break;
    const int64_t len = std::min(draw_span_length(rng), room);
    lens.push_back(len);
    masked += len;
    if (masked >= int64_t(std::ceil(opts_.mask_fraction * double(content))))
      break;
  }
  if (lens.empty())
    return false;
  const int64_t n = int64_t(lens.size());
  p.kind = k_kind_mask;
  p.content_len = seq_len_ - 2 * n;
  // Placement as GLM's sample_spans: n sorted offsets in [0, free - (n-1)] then each span
  // starts after the previous one plus its offset, so spans never touch.
  const int64_t slack = p.content_len - masked - (n - 1);
  std::vector<int64_t> places(static_cast<size_t>(n));
  for (auto& pl : places)
    pl = int64_t(rng.below(uint64_t(slack) + 1));
  std::sort(places.begin(), places.end());
  int64_t offset = 0;
  p.spans.clear();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t start = offset + places[size_t(i)];
    p.spans.push_back({start, start + lens[size_t(i)]});
    offset += lens[size_t(i)] + 1;
  }
  return true;
}

void GlmCollator::plan_gmask(KeyedRng& rng, CollatePlan& p) const {
  p.kind = k_kind_gmask;
  p.content_len = seq_len_ - 2;
  const int64_t c = p.content_len;
  const int64_t lo = std::max<int64_t>(1, int64_t(std::ceil(opts_.gmask_min_fraction * double(c))));
  const int64_t hi = c - 1; // keep at least one prefix token
  const int64_t len = lo + int64_t(rng.below(uint64_t(std::max<int64_t>(hi - lo, 0)) + 1));
  p.spans = {{c - len, c}};
}

bool GlmCollator::plan_smask(const uint32_t* window, KeyedRng& rng, CollatePlan& p) const {
  if (sentence_end_.empty())
    return false;
  const int64_t w = window_len();
  std::vector<Span> sentences;
  int64_t start = 0;
  for (int64_t i = 0; i < w; ++i) {
    const uint32_t t = window[i];
    if (t < sentence_end_.size() && sentence_end_[t]) {
      sentences.push_back({start, i + 1});
      start = i + 1;
    }
  }
  if (start < w)
    sentences.push_back({start, w});
  std::vector<size_t> idx(sentences.size());
  std::iota(idx.begin(), idx.end(), size_t(0));
  for (size_t i = idx.size(); i > 1; --i)
    std::swap(idx[i - 1], idx[rng.below(i)]);

  std::vector<Span> chosen;
  int64_t masked = 0, max_end = 0;
  for (size_t i : idx) {
    const Span s = sentences[i];
    const int64_t m = int64_t(chosen.size()) + 1;
    // Every chosen sentence must lie inside the content left once this one is added.
    if (std::max(max_end, s.end) > seq_len_ - 2 * m)
      continue;
    chosen.push_back(s);
    masked += s.end - s.start;
    max_end = std::max(max_end, s.end);
    if (masked >= int64_t(std::ceil(opts_.mask_fraction * double(seq_len_ - 2 * m))))
      break;
  }
  if (chosen.empty())
    return false;
  std::sort(chosen.begin(), chosen.end(), [](const Span& a, const Span& b) { return a.start < b.start; });
  p.kind = k_kind_smask;
  p.content_len = seq_len_ - 2 * int64_t(chosen.size());
  p.spans = std::move(chosen);
  return true;
}

CollatePlan GlmCollator::plan(const uint32_t* window, uint64_t seed, int64_t k) const {
  KeyedRng rng(seed, uint64_t(k), 0x434F4C4C41544Eull /* collate stream */);
  CollatePlan p;
  const double u = rng.uniform();
  if (u < opts_.mask_ratio) {
    if (!plan_mask(rng, p))
      plan_gmask(rng, p);
  } else if (u < opts_.mask_ratio + opts_.gmask_ratio) {
    plan_gmask(rng, p);
  } else if (!plan_smask(window, rng, p) && !plan_mask(rng, p)) {
    plan_gmask(rng, p); // no sentence fits: fall back to spans, then to a suffix
  }
  p.order.resize(p.spans.size());
  std::iota(p.order.begin(), p.order.end(), 0);
  for (size_t i = p.order.size(); i > 1; --i)
    std::swap(p.order[i - 1], p.order[rng.below(i)]);
  return p;
}

Sample GlmCollator::build(const uint32_t* window, const CollatePlan& plan) const {
  const int64_t S = seq_len_, C = plan.content_len;
  const size_t n = plan.spans.size();
  int64_t masked = 0;
  for (size_t j = 0; j < n; ++j) {
    const Span& s = plan.spans[j];
    GLM3D_CHECK(s.start < s.end && s.end <= C && (j == 0 || plan.spans[j - 1].end <= s.start))
        << "bad span [" << s.start << ", " << s.end << ") in content " << C;
    masked += s.end - s.start;
  }
  GLM3D_CHECK(n >= 1 && plan.order.size() == n && C + 2 * int64_t(n) <= S && C <= window_len())
      << "plan does not fit: content " << C << ", " << n << " spans, seq_len " << S;
  const int32_t mask_token = plan.kind == k_kind_gmask   ? special_.gmask
                             : plan.kind == k_kind_smask ? special_.smask
                                                         : special_.mask;
  Sample s;
  s.kind = plan.kind;
  s.tokens.assign(size_t(S), special_.pad);
  s.position_ids.assign(size_t(S), 0);
  s.block_position_ids.assign(size_t(S), 0);
  s.targets.assign(size_t(S), special_.pad);
  s.loss_mask.assign(size_t(S), 0);

  // Part A: content with each span collapsed to one mask token.  [sep]
  std::vector<int32_t> mask_pos(n);
  int64_t pos = 0;
  size_t j = 0;
  for (int64_t i = 0; i < C;) {
    if (j < n && i == plan.spans[j].start) {
      s.tokens[size_t(pos)] = mask_token;
      mask_pos[j] = int32_t(pos);
      i = plan.spans[j].end;
      ++j;
    } else {
      s.tokens[size_t(pos)] = int32_t(window[i]);
      ++i;
    }
    s.position_ids[size_t(pos)] = part_a_position(pos).position;
    ++pos;
  }
  s.sep = int32_t(pos);

  // Part B: <sop> + span as inputs, span + <eop> as targets, one block per span.  [S - sep]
  for (int idx : plan.order) {
    const Span& sp = plan.spans[size_t(idx)];
    const int64_t len = sp.end - sp.start;
    for (int64_t t = 0; t <= len; ++t, ++pos) {
      s.tokens[size_t(pos)] = t == 0 ? special_.sop : int32_t(window[sp.start + t - 1]);
      s.targets[size_t(pos)] = t < len ? int32_t(window[sp.start + t]) : special_.eop;
      const GlmPosition at = part_b_position(mask_pos[size_t(idx)], t);
      s.position_ids[size_t(pos)] = at.position;
      s.block_position_ids[size_t(pos)] = at.block;
      s.loss_mask[size_t(pos)] = 1;
    }
  }
  GLM3D_CHECK(pos == C - masked + int64_t(n) + masked + int64_t(n)) << "collator length mismatch";
  return s;
}

} // namespace glm3d
