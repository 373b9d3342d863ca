#include "plan/search.h"

#include "core/check.h"

#include <algorithm>

namespace glm3d {

namespace {

std::vector<int> divisors(int n, int most) {
  std::vector<int> d;
  for (int i = 1; i <= std::min(n, most); ++i)
    if (n % i == 0)
      d.push_back(i);
  return d;
}

std::vector<int64_t> powers_of_two(int64_t most) {
  std::vector<int64_t> p;
  for (int64_t v = 1; v <= most; v *= 2)
    p.push_back(v);
  return p;
}

// Completes a candidate: schedule from the virtual stages, attention from the precision, the
// layer split (pinned, even, or balanced).
Layout complete(const PlanInput& in, Layout l, const SearchSpace& s) {
  l.schedule = s.schedule             ? *s.schedule
               : l.virtual_stages > 1 ? ScheduleKind::interleaved
                                      : ScheduleKind::one_f_one_b;
  l.exec.attention = parse_attention(s.attention, l.exec.precision);
  l.pp_layers = s.pp_layers;
  if (l.pp_layers.empty() && in.cfg.num_layers % (int64_t(l.pp) * l.virtual_stages) != 0)
    l.pp_layers = balanced_pp_layers(in.cfg.num_layers, l.pp, l.virtual_stages);
  return l;
}

void check_gpus(int gpus, const SearchSpace& s) {
  GLM3D_USAGE_CHECK(gpus >= 1) << "--gpus must be positive, got " << gpus;
  for (const auto& [name, v] : {std::pair{"--tp", s.tp}, std::pair{"--pp", s.pp}, std::pair{"--dp", s.dp},
                                std::pair{"--virtual-stages", s.virtual_stages}})
    GLM3D_USAGE_CHECK(!v || *v >= 1) << name << " must be positive, got " << *v;
  GLM3D_USAGE_CHECK(!s.micro_batch || *s.micro_batch >= 1)
      << "--micro-batch must be positive, got " << *s.micro_batch;
  GLM3D_USAGE_CHECK(!s.zero || *s.zero == 0 || *s.zero == 1) << "--zero must be 0 or 1, got " << *s.zero;
  const int64_t fixed = int64_t(s.tp.value_or(1)) * s.pp.value_or(1) * s.dp.value_or(1);
  GLM3D_USAGE_CHECK(gpus % fixed == 0 && (!(s.tp && s.pp && s.dp) || fixed == gpus))
      << "--gpus " << gpus << " is not tp x pp x dp for the pinned tp=" << s.tp.value_or(1)
      << " pp=" << s.pp.value_or(1) << " dp=" << s.dp.value_or(1);
}

} // namespace

Layout pinned_layout(const PlanInput& in, int gpus, const SearchSpace& s) {
  check_gpus(gpus, s);
  Layout l;
  l.tp = *s.tp, l.pp = *s.pp, l.dp = *s.dp, l.virtual_stages = *s.virtual_stages;
  l.micro_batch = *s.micro_batch, l.zero = *s.zero;
  l.exec.precision = *s.precision, l.exec.recompute = *s.recompute;
  l = complete(in, l, s);
  std::string problem = layout_problem(in.cfg, l, in.global_batch);
  if (problem.rfind("layers", 0) == 0)
    problem += " (" + layer_split_problem(in.cfg.num_layers, l.pp, l.virtual_stages, l.pp_layers) + ")";
  GLM3D_USAGE_CHECK(problem.empty()) << "layout " << l.str() << " cannot train " << in.cfg.name
                                     << " with global batch " << in.global_batch << ": " << problem;
  return l;
}

SearchResult search_layouts(const PlanInput& in, int gpus, const SearchSpace& s, int top) {
  check_gpus(gpus, s);
  SearchResult res;
  InFlightCache cache;
  std::vector<Layout> fitting;
  const auto tps = s.tp ? std::vector<int>{*s.tp} : [&] {
    std::vector<int> t;
    for (int64_t v : powers_of_two(std::min(gpus, in.gpus_per_node)))
      t.push_back(int(v));
    return t;
  }();
  const std::vector<Recompute> rcs =
      s.recompute ? std::vector{*s.recompute}
                  : std::vector{Recompute::none, Recompute::selective, Recompute::full};
  const std::vector<cpu::Precision> precs =
      s.precision ? std::vector{*s.precision} : std::vector{cpu::Precision::bf16, cpu::Precision::f32};
  for (int tp : tps) {
    if (gpus % tp != 0)
      continue;
    const auto pps = s.pp ? std::vector<int>{*s.pp} : divisors(gpus / tp, int(in.cfg.num_layers));
    for (int pp : pps) {
      if ((gpus / tp) % pp != 0)
        continue;
      const int dp = gpus / (tp * pp);
      if (s.dp && *s.dp != dp)
        continue;
      const auto vs = s.virtual_stages ? std::vector<int>{*s.virtual_stages}
                      : pp > 1         ? std::vector<int>{1, 2, 3, 4, 6, 8}
                                       : std::vector<int>{1};
      const auto mbs =
          s.micro_batch ? std::vector<int64_t>{*s.micro_batch} : powers_of_two(in.global_batch / dp);
      const auto zeros = s.zero   ? std::vector<int>{*s.zero}
                         : dp > 1 ? std::vector<int>{0, 1}
                                  : std::vector<int>{0};
      for (int v : vs)
        for (int64_t mb : mbs)
          for (int zero : zeros)
            for (Recompute rc : rcs)
              for (cpu::Precision prec : precs) {
                Layout l;
                l.tp = tp, l.pp = pp, l.dp = dp, l.virtual_stages = v, l.micro_batch = mb, l.zero = zero;
                l.exec.precision = prec, l.exec.recompute = rc;
                l = complete(in, l, s);
                ++res.candidates;
                const std::string problem = layout_problem(in.cfg, l, in.global_batch);
                if (!problem.empty()) {
                  ++res.rejected[problem];
                  continue;
                }
                if (!predict(in, l, false, &cache).fits) {
                  ++res.rejected["does not fit in memory"];
                  continue;
                }
                fitting.push_back(l);
              }
    }
  }
  res.fitting = int64_t(fitting.size());
  // Simulate in order of the lower bound until it passes the top-th best step time.
  std::vector<std::pair<double, size_t>> order;
  for (size_t i = 0; i < fitting.size(); ++i)
    order.emplace_back(step_lower_bound(in, fitting[i]), i);
  std::sort(order.begin(), order.end());
  for (const auto& [bound, i] : order) {
    if (int(res.best.size()) >= top && bound >= res.best.back().step_s)
      break;
    res.best.push_back(predict(in, fitting[i], true, &cache));
    std::sort(res.best.begin(), res.best.end(),
              [](const Prediction& a, const Prediction& b) { return a.step_s < b.step_s; });
    if (int(res.best.size()) > top)
      res.best.pop_back();
  }
  for (Prediction& p : res.best)
    p.trace = {}; // the caller re-runs the one it explains
  return res;
}

} // namespace glm3d
