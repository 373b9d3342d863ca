#pragma once
// Faults injected on purpose, for the reliability tests (--inject-fault SPEC, not for
// real runs). SPEC is KIND@STEPS[:RANK]:
//   nan@3 or nan@2-6   a NaN in rank 0's gradient at those steps (the step must be
//                      skipped on every rank, --max-skipped consecutive ones stop the job)
//   throw@5:3          rank 3 throws an error at the start of step 5 (one rank only)
//   hang@5:3           rank 3 sleeps forever at the start of step 5 (the watchdog must fire)
//   kill@5:3           rank 3 sends itself SIGKILL at the start of step 5
//   diverge@5:3        rank 3 nudges its first parameter after the update of step 5, so its
//                      replica differs from its peers' (--check-replicas-interval must see it)
#include "train/iter_ranges.h"

#include <string>

namespace glm3d {

struct FaultPlan {
  enum class Kind { none, nan, throw_error, hang, kill, diverge } kind = Kind::none;
  IterRanges steps;
  int rank = 0;

  bool nan_at(int64_t step) const { return kind == Kind::nan && steps.contains(step); }
  bool diverge_at(int64_t step, int my_rank) const {
    return kind == Kind::diverge && my_rank == rank && steps.contains(step);
  }
  // Throws, hangs or kills for throw/hang/kill at `step` on the chosen rank; else nothing.
  void before_step(int64_t step, int rank) const;
};

FaultPlan parse_fault_plan(const std::string& spec); // "" -> Kind::none; UsageError on bad specs

} // namespace glm3d
