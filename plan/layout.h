#pragma once
// One training layout as the planner sees it, and the per-rank facts the trainer derives from a
// layout with the same calls: the stage plan (pipeline/partition.h chunks_of_rank) and the
// memory policy with in-flight counts from the schedule's op lists (pipeline/schedule.h
// peak_in_flight). train/train_job.cpp uses stage_plan_of and memory_policy_of too, so the
// planner's per-rank memory is the trainer's start-up estimate by construction.
#include "model/config.h"
#include "model/memory_model.h"
#include "model/param_table.h"
#include "parallel/parallel_dims.h"
#include "pipeline/schedule.h"

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace glm3d {

struct Layout {
  int tp = 1, pp = 1, dp = 1, virtual_stages = 1;
  int64_t micro_batch = 1;
  int zero = 0; // ZeRO stage: 0 or 1
  ExecPolicy exec;
  ScheduleKind schedule = ScheduleKind::one_f_one_b; // gpipe | 1f1b (V = 1), interleaved (V > 1)
  std::vector<int> pp_layers;                        // layers per stage; empty = even split

  int world() const { return tp * pp * dp; }
  ParallelDims dims() const { return ParallelDims::make(world(), tp, pp, dp, virtual_stages); }
  int num_microbatches(int64_t global_batch) const { return int(global_batch / (micro_batch * dp)); }
  std::string str() const; // "tp=4 pp=8 dp=24 v=1 mb=1 zero=1 full bf16 1f1b layers 8,9,...,8"
};

// Why `layout` cannot run `cfg` with `global_batch` samples per step ("" when it can), one
// short reason a search counts: "heads not divisible by tp", "layers not divisible", ...
std::string layout_problem(const ModelConfig& cfg, const Layout& layout, int64_t global_batch);

// The trainer's stage plan of (pp_rank, tp_rank) (tp_rank only names the shard: sizes are equal).
StagePlan stage_plan_of(const ModelConfig& cfg, const ParallelDims& dims, int pp_rank, int tp_rank,
                        const std::vector<int>& pp_layers);
// Activation sets pipeline rank `pp_rank` holds at its peak (all chunks; the head's chunk), counted
// on its op list; 1 without a pipeline.
struct InFlight {
  int all = 1, head = 1;
};
InFlight in_flight_of(ScheduleKind schedule, const ParallelDims& dims, int num_microbatches, int pp_rank);
// The trainer's memory policy of a rank.
MemoryPolicy memory_policy_of(const ExecPolicy& exec, const ParallelDims& dims, bool zero,
                              int64_t micro_batch, int64_t seq_len, InFlight in_flight);
// in_flight_of memoised per (schedule, pp, virtual stages, micro-batches, rank), for searches.
class InFlightCache {
public:
  InFlight get(ScheduleKind schedule, const ParallelDims& dims, int num_microbatches, int pp_rank);

private:
  std::map<std::tuple<int, int, int, int, int>, InFlight> memo_;
};

// Layers per stage when num_layers is not divisible by pp * V: the remainder goes to the middle
// stages first (the first stage holds the embedding, the last the LM head), in units of V
// layers. GLM-130B: 70 layers, pp 8 -> 8,9,9,9,9,9,9,8. Empty when the even split works;
// UsageError-free: returns {} also when no split exists (layout_problem says why).
std::vector<int> balanced_pp_layers(int64_t num_layers, int pp, int virtual_stages);

// Where ranks sit: Megatron order (tp fastest, then dp, then pp), `per_node` ranks per node.
struct Placement {
  int per_node = 8;
  int node_of(int rank) const { return rank / per_node; }
  // Members of `group` on the node of its first member (1 .. size); the rest are on other nodes.
  int members_per_node(const std::vector<int>& group) const;
  bool same_node(int a, int b) const { return node_of(a) == node_of(b); }
};

} // namespace glm3d
