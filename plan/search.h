#pragma once
// The layouts of a job: every combination of the dimensions the user left open, checked as the
// trainer checks them (plan/layout.h layout_problem), sized by the trainer's memory accounting,
// and those that fit ranked by simulated step time.
#include "plan/step_model.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace glm3d {

// What the user pinned; an unset field is searched.
struct SearchSpace {
  std::optional<int> tp, pp, dp, virtual_stages, zero;
  std::optional<int64_t> micro_batch;
  std::optional<Recompute> recompute;
  std::optional<cpu::Precision> precision;
  std::optional<ScheduleKind> schedule;
  std::vector<int> pp_layers; // empty: even split, or balanced_pp_layers when layers do not divide
  std::string attention = "auto";
  bool fully_pinned() const {
    return tp && pp && dp && virtual_stages && zero && micro_batch && recompute && precision;
  }
};

struct SearchResult {
  std::vector<Prediction> best;            // fitting layouts, fastest first
  int64_t candidates = 0, fitting = 0;     // layouts examined; of them, those that fit
  std::map<std::string, int64_t> rejected; // reason -> count
};

// The one layout of a fully pinned space. UsageError (one line) if it cannot run.
Layout pinned_layout(const PlanInput& in, int gpus, const SearchSpace& space);
// Searches the open dimensions; `top` layouts are simulated and kept.
SearchResult search_layouts(const PlanInput& in, int gpus, const SearchSpace& space, int top = 10);

} // namespace glm3d
