// Stage partition: layer ranges per (pipeline rank, model chunk).
#include "pipeline/partition.h"

#include "core/check.h"
#include "parallel/parallel_dims.h"

#include <charconv>

namespace glm3d {

std::vector<StageLayers> chunks_of_rank(int num_layers, int pp, int pp_rank, int virtual_stages,
                                        const std::vector<int>& pp_layers) {
  GLM3D_CHECK(pp >= 1 && virtual_stages >= 1 && pp_rank >= 0 && pp_rank < pp)
      << "pp=" << pp << " pp_rank=" << pp_rank << " virtual_stages=" << virtual_stages;
  const std::string problem = layer_split_problem(num_layers, pp, virtual_stages, pp_layers);
  GLM3D_USAGE_CHECK(problem.empty()) << "cannot split the layers over pp=" << pp
                                     << " virtual_stages=" << virtual_stages << ": " << problem;
  // Layers of virtual stage s; stages are laid out in order s = 0, 1, ..., pp*V - 1.
  const auto layers_of = [&](int s) {
    return pp_layers.empty() ? num_layers / (pp * virtual_stages) : pp_layers[s % pp] / virtual_stages;
  };
  std::vector<StageLayers> out;
  int first = 0;
  for (int s = 0; s < pp * virtual_stages; ++s) {
    if (s % pp == pp_rank)
      out.push_back({first, layers_of(s)});
    first += layers_of(s);
  }
  return out;
}

std::vector<int> parse_pp_layers(const std::string& text) {
  std::vector<int> out;
  if (text.empty())
    return out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    int v = 0;
    const char* b = text.data() + pos;
    const char* e = text.data() + comma;
    const auto [end, ec] = std::from_chars(b, e, v);
    GLM3D_USAGE_CHECK(ec == std::errc() && end == e && v > 0)
        << "--pp-layers '" << text << "': expected positive integers separated by commas, like 8,9,9,8";
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

} // namespace glm3d
