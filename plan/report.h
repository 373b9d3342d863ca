#pragma once
// What `glm3d plan` prints: one layout (memory per stage, step time split, throughput), the
// ranked layouts of a search with the reasons others were rejected, as text or JSON; the
// per-stage memory table and the simulated schedule (--explain); a PNG of memory per stage.
#include "plan/search.h"

#include <nlohmann/json.hpp>
#include <string>

namespace glm3d {

std::string format_prediction(const PlanInput& in, const Prediction& p);
std::string format_search(const PlanInput& in, const SearchResult& r);
// Per-stage memory table and the simulated schedule of one pipeline (p.trace must be set).
std::string explain(const PlanInput& in, const Prediction& p, int width = 100);

nlohmann::ordered_json prediction_json(const PlanInput& in, const Prediction& p);
nlohmann::ordered_json search_json(const PlanInput& in, const SearchResult& r);

// Memory per stage as a stacked bar chart (gnuplot); UsageError if gnuplot fails.
void write_memory_png(const PlanInput& in, const Prediction& p, const std::string& path);

} // namespace glm3d
