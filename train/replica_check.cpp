#include "train/replica_check.h"

#include "core/check.h"

#include <sstream>
#include <vector>

namespace glm3d {

uint64_t hash_bytes(const void* data, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull; // FNV-1a over the bytes, then a splitmix finaliser
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i)
    h = (h ^ p[i]) * 0x100000001b3ull;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 31);
}

namespace {

// Every member's hash; "" when they agree, else which two differ.
std::string disagreement(Communicator& group, uint64_t mine) {
  std::vector<uint64_t> all(size_t(group.size()));
  group.all_gather(&mine, all.data(), 1, DType::u64);
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) {
      std::ostringstream os;
      os << "group " << group.name() << " rank 0 and rank " << r << " hold different values";
      return os.str();
    }
  return "";
}

} // namespace

void check_replicas(const ParamTable& table, const void* weights, size_t elem, ProcessGroups& pg,
                    int64_t step) {
  const auto* w = static_cast<const uint8_t*>(weights);
  std::string problem = disagreement(*pg.dp, hash_bytes(w, size_t(table.total()) * elem));
  uint64_t replicated = 0;
  for (const auto& p : table.params())
    if (p.tp_replicated())
      replicated ^= hash_bytes(w + size_t(p.offset) * elem, size_t(p.numel()) * elem) + uint64_t(p.offset);
  const std::string tp_problem = disagreement(*pg.tp, replicated);
  if (problem.empty())
    problem = tp_problem;
  // Every rank must throw together: agree on whether any group of any rank disagreed.
  int bad = problem.empty() ? 0 : 1;
  pg.world->all_reduce(&bad, 1, ReduceOp::max);
  GLM3D_CHECK(!bad) << "replica check after step " << step << ": parameters that must be identical differ ("
                    << (problem.empty() ? "seen on another rank" : problem)
                    << "); the run is no longer consistent: resume from the last checkpoint";
}

} // namespace glm3d
