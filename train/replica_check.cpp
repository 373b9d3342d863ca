#include "train/replica_check.h"

#include "core/check.h"

#include <cstring>
#include <sstream>
#include <vector>

namespace glm3d {

uint64_t hash_floats(const float* params, int64_t begin, int64_t end) {
  uint64_t h = 0xcbf29ce484222325ull; // FNV-1a over 32-bit words, then a splitmix finaliser
  for (int64_t i = begin; i < end; ++i) {
    uint32_t bits;
    std::memcpy(&bits, params + i, 4);
    h = (h ^ bits) * 0x100000001b3ull;
  }
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

void check_replicas(const ParamTable& table, const float* params, ProcessGroups& pg, int64_t step) {
  std::string problem = disagreement(*pg.dp, hash_floats(params, 0, table.total()));
  uint64_t replicated = 0;
  for (const auto& p : table.params())
    if (p.tp_replicated())
      replicated ^= hash_floats(params, p.offset, p.offset + p.numel()) + uint64_t(p.offset);
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
