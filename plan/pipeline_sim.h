#pragma once
// Event simulation of one pipeline: every pp rank runs its own op list from
// pipeline/schedule.h build_schedule (the lists the trainer executes), forwards and backwards
// take the given seconds, a send is non-blocking (as in pipeline/executor.h) and its payload
// arrives `hop` seconds later, a receive waits for that arrival.
#include "pipeline/schedule.h"

#include <vector>

namespace glm3d {

struct StageCosts {
  std::vector<std::vector<double>> fwd, bwd; // [pp_rank][chunk] seconds of one micro-batch
  std::vector<double> hop; // [s] seconds from virtual stage s to s + 1 (either direction), pp*V - 1 entries
};

struct OpSpan {
  PipeOp op;
  double start = 0, end = 0;
};

struct PipelineTrace {
  double makespan = 0;                    // the last rank's end
  std::vector<double> busy, end;          // per rank: compute seconds, end of its last op
  std::vector<std::vector<OpSpan>> spans; // per rank: its forwards and backwards in order
  // Idle share of the pipeline phase for the busiest rank: (makespan - max busy) / makespan.
  double bubble_fraction() const;
  int busiest_rank() const;
};

// Throws glm3d::Error if the op lists deadlock (they do not: tests/pipeline proves it).
PipelineTrace simulate_pipeline(ScheduleKind kind, int pp, int num_microbatches, int virtual_stages,
                                const StageCosts& costs);

// The trace as text: one line per rank, `width` columns over the makespan; F forward,
// B backward, '.' idle (a column shows what takes most of its time).
std::string trace_chart(const PipelineTrace& t, int width);

} // namespace glm3d
