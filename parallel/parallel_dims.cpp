// ParallelDims validation and the group math. Every group is listed in group-rank
// order, so MPI_Comm_split (parallel/process_groups.cpp) can use the list position
// as its key and the group's smallest world rank as its colour.
#include "parallel/parallel_dims.h"

#include "core/check.h"

#include <numeric>
#include <sstream>

namespace glm3d {

namespace {

std::string degrees(int world, int tp, int pp, int dp, int virtual_stages) {
  std::ostringstream os;
  os << "tp=" << tp << " pp=" << pp << " dp=" << (dp <= 0 ? std::string("auto") : std::to_string(dp))
     << " virtual_stages=" << virtual_stages << " (world size " << world << ")";
  return os.str();
}

} // namespace

ParallelDims ParallelDims::make(int world, int tp, int pp, int dp, int virtual_stages) {
  const std::string what = degrees(world, tp, pp, dp, virtual_stages);
  GLM3D_USAGE_CHECK(world >= 1 && tp >= 1 && pp >= 1 && virtual_stages >= 1)
      << "impossible parallel layout " << what << ": world, tp, pp and virtual_stages must all be >= 1";
  if (dp <= 0) {
    GLM3D_USAGE_CHECK(world % (tp * pp) == 0)
        << "impossible parallel layout " << what << ": world size " << world
        << " is not divisible by tp*pp = " << tp * pp << ", so dp cannot be inferred";
    dp = world / (tp * pp);
  }
  GLM3D_USAGE_CHECK(int64_t(tp) * pp * dp == world)
      << "impossible parallel layout " << what << ": tp*pp*dp = " << int64_t(tp) * pp * dp
      << " must equal the world size " << world;
  ParallelDims d;
  d.world = world;
  d.tp = tp;
  d.pp = pp;
  d.dp = dp;
  d.virtual_stages = virtual_stages;
  return d;
}

std::vector<int> ParallelDims::tp_group(int rank) const {
  std::vector<int> g;
  for (int t = 0; t < tp; ++t)
    g.push_back(rank_of(t, dp_rank(rank), pp_rank(rank)));
  return g;
}

std::vector<int> ParallelDims::dp_group(int rank) const {
  std::vector<int> g;
  for (int d = 0; d < dp; ++d)
    g.push_back(rank_of(tp_rank(rank), d, pp_rank(rank)));
  return g;
}

std::vector<int> ParallelDims::pp_group(int rank) const {
  std::vector<int> g;
  for (int p = 0; p < pp; ++p)
    g.push_back(rank_of(tp_rank(rank), dp_rank(rank), p));
  return g;
}

std::vector<int> ParallelDims::model_parallel_group(int rank) const {
  // Ascending world rank = tp fastest, then pp: group rank = tp_rank + tp * pp_rank.
  std::vector<int> g;
  for (int p = 0; p < pp; ++p)
    for (int t = 0; t < tp; ++t)
      g.push_back(rank_of(t, dp_rank(rank), p));
  return g;
}

std::vector<int> ParallelDims::embedding_group(int rank) const {
  const int p = pp_rank(rank);
  if (p != 0 && p != pp - 1)
    return {}; // a middle stage holds neither embedding nor LM head
  std::vector<int> g{rank_of(tp_rank(rank), dp_rank(rank), 0)};
  if (pp > 1)
    g.push_back(rank_of(tp_rank(rank), dp_rank(rank), pp - 1));
  return g;
}

std::string ParallelDims::str() const {
  std::ostringstream os;
  os << "tp=" << tp << " pp=" << pp << " dp=" << dp;
  if (virtual_stages > 1)
    os << " virtual_stages=" << virtual_stages;
  os << " (world " << world << ")";
  return os.str();
}

std::string layer_split_problem(int64_t num_layers, int pp, int virtual_stages,
                                const std::vector<int>& pp_layers) {
  std::ostringstream os;
  const int64_t chunks = int64_t(pp) * virtual_stages;
  if (num_layers < 1) {
    os << "num_layers=" << num_layers << " must be >= 1";
  } else if (pp_layers.empty()) {
    if (num_layers % chunks != 0)
      os << "num_layers=" << num_layers << " is not divisible by pp*virtual_stages = " << chunks
         << " (give an explicit --pp-layers list for an uneven split)";
  } else if (int64_t(pp_layers.size()) != pp) {
    os << "--pp-layers has " << pp_layers.size() << " entries, expected one per pipeline stage (pp=" << pp
       << ")";
  } else {
    const int64_t sum = std::accumulate(pp_layers.begin(), pp_layers.end(), int64_t(0));
    for (size_t s = 0; s < pp_layers.size() && os.tellp() == 0; ++s) {
      if (pp_layers[s] < virtual_stages || pp_layers[s] % virtual_stages != 0)
        os << "--pp-layers entry " << s << " is " << pp_layers[s]
           << ": each stage needs a positive multiple of virtual_stages=" << virtual_stages << " layers";
    }
    if (os.tellp() == 0 && sum != num_layers)
      os << "--pp-layers sums to " << sum << " but the model has num_layers=" << num_layers;
  }
  return os.str();
}

void validate_for_model(const ParallelDims& d, int64_t num_layers, int64_t num_heads, int64_t ffn_hidden,
                        const std::vector<int>& pp_layers) {
  const std::string what = d.str();
  GLM3D_USAGE_CHECK(num_heads % d.tp == 0)
      << "impossible parallel layout " << what << ": num_heads=" << num_heads
      << " is not divisible by tp=" << d.tp;
  GLM3D_USAGE_CHECK(ffn_hidden % d.tp == 0)
      << "impossible parallel layout " << what << ": ffn_hidden=" << ffn_hidden
      << " is not divisible by tp=" << d.tp;
  const std::string split = layer_split_problem(num_layers, d.pp, d.virtual_stages, pp_layers);
  GLM3D_USAGE_CHECK(split.empty()) << "impossible parallel layout " << what << ": " << split;
}

int64_t padded_vocab(int64_t vocab, int tp) {
  GLM3D_CHECK(vocab >= 1 && tp >= 1) << "vocab=" << vocab << " tp=" << tp;
  const int64_t multiple = int64_t(tp) * 128;
  return (vocab + multiple - 1) / multiple * multiple;
}

} // namespace glm3d
