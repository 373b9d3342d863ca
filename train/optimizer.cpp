#include "train/optimizer.h"

#include <algorithm>

namespace glm3d {

AdamW::AdamW(const ParamTable& table, const cpu::AdamWHyper& hyper, int64_t begin, int64_t end)
    : hyper_(hyper), begin_(begin), end_(end), m_(size_t(end - begin), 0.f), v_(size_t(end - begin), 0.f) {
  for (const auto& p : table.params()) {
    const int64_t b = std::max(begin, p.offset), e = std::min(end, p.offset + p.numel());
    if (b >= e)
      continue;
    if (!runs_.empty() && runs_.back().end == b && runs_.back().wd == p.weight_decay)
      runs_.back().end = e;
    else
      runs_.push_back({b, e, p.weight_decay});
  }
}

void AdamW::step(float* master, const float* grads, double lr, int64_t step, double grad_scale) {
  cpu::AdamWHyper h = hyper_;
  h.lr = lr;
  h.grad_scale = grad_scale;
  for (const Run& r : runs_) {
    const int64_t o = r.begin - begin_;
    cpu::adamw_update(master + o, grads + r.begin, m_.data() + o, v_.data() + o, r.end - r.begin, h, step,
                      r.wd);
  }
}

} // namespace glm3d
