#include "plan/layout.h"

#include "core/check.h"
#include "pipeline/partition.h"

#include <sstream>

namespace glm3d {

std::string Layout::str() const {
  std::ostringstream os;
  os << "tp=" << tp << " pp=" << pp << " dp=" << dp << " v=" << virtual_stages << " mb=" << micro_batch
     << " zero=" << zero << " " << to_string(exec.recompute) << " " << to_string(exec.precision) << " "
     << to_string(schedule);
  if (!pp_layers.empty()) {
    os << " layers ";
    for (size_t i = 0; i < pp_layers.size(); ++i)
      os << (i ? "," : "") << pp_layers[i];
  }
  return os.str();
}

std::string layout_problem(const ModelConfig& cfg, const Layout& l, int64_t global_batch) {
  if (l.tp < 1 || l.pp < 1 || l.dp < 1 || l.virtual_stages < 1 || l.micro_batch < 1)
    return "sizes must be positive";
  if (l.zero != 0 && l.zero != 1)
    return "zero must be 0 or 1";
  if (cfg.num_heads % l.tp != 0)
    return "heads not divisible by tp";
  if (cfg.ffn_hidden % l.tp != 0 || cfg.hidden % l.tp != 0)
    return "hidden or FFN size not divisible by tp";
  if (!layer_split_problem(cfg.num_layers, l.pp, l.virtual_stages, l.pp_layers).empty())
    return "layers not divisible over pp x virtual stages";
  if (global_batch % (l.micro_batch * l.dp) != 0)
    return "global batch not divisible by micro-batch x dp";
  const int m = l.num_microbatches(global_batch);
  if (l.virtual_stages > 1 && (l.schedule != ScheduleKind::interleaved || l.pp < 2))
    return "virtual stages need the interleaved schedule and pp >= 2";
  if (l.schedule == ScheduleKind::interleaved && (l.virtual_stages < 2 || l.pp < 2))
    return "the interleaved schedule needs virtual stages >= 2 and pp >= 2";
  if (l.schedule == ScheduleKind::interleaved && m % l.pp != 0)
    return "micro-batches not divisible by pp (interleaved)";
  return "";
}

StagePlan stage_plan_of(const ModelConfig& cfg, const ParallelDims& dims, int pp_rank, int tp_rank,
                        const std::vector<int>& pp_layers) {
  StagePlan plan;
  plan.tp = dims.tp;
  plan.tp_rank = tp_rank;
  for (const StageLayers& c :
       chunks_of_rank(int(cfg.num_layers), dims.pp, pp_rank, dims.virtual_stages, pp_layers))
    plan.chunks.emplace_back(c.first_layer, c.num_layers);
  plan.has_embedding = pp_rank == 0 || pp_rank == dims.pp - 1;
  return plan;
}

InFlight in_flight_of(ScheduleKind schedule, const ParallelDims& dims, int num_microbatches, int pp_rank) {
  InFlight f;
  if (dims.pp > 1) {
    const auto ops = build_schedule(schedule, dims.pp, pp_rank, num_microbatches, dims.virtual_stages);
    f.all = peak_in_flight(ops);
    f.head = peak_in_flight(ops, dims.virtual_stages - 1);
  }
  return f;
}

MemoryPolicy memory_policy_of(const ExecPolicy& exec, const ParallelDims& dims, bool zero,
                              int64_t micro_batch, int64_t seq_len, InFlight in_flight) {
  MemoryPolicy pol;
  pol.exec = exec;
  pol.dp = dims.dp;
  pol.zero = zero;
  pol.micro_batch = micro_batch;
  pol.seq_len = seq_len;
  pol.in_flight = in_flight.all;
  pol.head_in_flight = in_flight.head;
  return pol;
}

InFlight InFlightCache::get(ScheduleKind schedule, const ParallelDims& dims, int m, int pp_rank) {
  const auto key = std::make_tuple(int(schedule), dims.pp, dims.virtual_stages, m, pp_rank);
  auto it = memo_.find(key);
  if (it == memo_.end())
    it = memo_.emplace(key, in_flight_of(schedule, dims, m, pp_rank)).first;
  return it->second;
}

std::vector<int> balanced_pp_layers(int64_t num_layers, int pp, int v) {
  if (pp < 1 || v < 1 || num_layers % v != 0 || num_layers / v < pp || num_layers % (int64_t(pp) * v) == 0)
    return {};
  const int64_t units = num_layers / v, base = units / pp;
  int64_t rem = units % pp;
  std::vector<int> out(static_cast<size_t>(pp), static_cast<int>(base));
  // Middle stages first, then the last, then the first.
  for (int r = 1; r < pp - 1 && rem > 0; ++r, --rem)
    ++out[size_t(r)];
  if (rem > 0)
    ++out[size_t(pp - 1)], --rem;
  if (rem > 0)
    ++out[0], --rem;
  for (int& n : out)
    n *= v;
  return out;
}

int Placement::members_per_node(const std::vector<int>& group) const {
  int n = 0;
  for (int r : group)
    n += same_node(r, group.front()) ? 1 : 0;
  return n;
}

} // namespace glm3d
