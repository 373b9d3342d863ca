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

// Every member's hash; "" when they agree, else the world ranks of the first two that differ.
std::string disagreement(Communicator& group, int world_rank, uint64_t mine) {
  const uint64_t me[2] = {mine, uint64_t(world_rank)};
  std::vector<uint64_t> all(size_t(2 * group.size()));
  group.all_gather(me, all.data(), 2, DType::u64);
  for (size_t r = 1; r < size_t(group.size()); ++r)
    if (all[2 * r] != all[0]) {
      std::ostringstream os;
      os << "world ranks " << all[1] << " and " << all[2 * r + 1] << " of the " << group.name()
         << " group hold different values";
      return os.str();
    }
  return "";
}

} // namespace

void check_replicas(const ParamTable& table, const void* weights, size_t elem, ProcessGroups& pg,
                    int64_t step, bool tied, Communicator* kv_share) {
  const auto* w = static_cast<const uint8_t*>(weights);
  auto hash = [&](int64_t begin, int64_t end) {
    return hash_bytes(w + size_t(begin) * elem, size_t(end - begin) * elem);
  };
  const int me = pg.world->rank();
  std::string problem = disagreement(*pg.dp, me, hash(0, table.total()));
  uint64_t replicated = 0;
  for (const auto& p : table.params())
    if (p.tp_replicated())
      replicated ^= hash(p.offset, p.offset + p.numel()) + uint64_t(p.offset);
  const std::string tp_problem = disagreement(*pg.tp, me, replicated);
  // Replicated key/value groups (tp > groups): their rows across the ranks that hold them.
  if (kv_share) {
    uint64_t kv = 0;
    for (const auto& p : table.params())
      if (p.kv_share() > 1)
        kv ^= hash(p.offset + p.kv_range().first, p.offset + p.kv_range().second) + uint64_t(p.offset);
    const std::string kv_problem = disagreement(*kv_share, me, kv);
    if (problem.empty())
      problem = kv_problem;
  }
  if (problem.empty())
    problem = tp_problem;
  // Tensors every model-parallel rank holds whole (the prefix encoder): across tp x pp.
  if (pg.model_parallel && pg.model_parallel->size() > 1) {
    uint64_t whole = 0;
    for (const auto& p : table.params())
      if (p.grad_sum == GradSum::model_parallel)
        whole ^= hash(p.offset, p.offset + p.numel()) + uint64_t(p.offset);
    const std::string mp_problem = disagreement(*pg.model_parallel, me, whole);
    if (problem.empty())
      problem = mp_problem;
  }
  // The tied embedding: the first and the last pipeline stage each hold a copy of its rows.
  const ParamInfo* emb = table.find("word_embeddings.weight");
  if (tied && emb && pg.embedding && pg.embedding->size() > 1) {
    const std::string emb_problem =
        disagreement(*pg.embedding, me, hash(emb->offset, emb->offset + emb->numel()));
    if (problem.empty())
      problem = emb_problem;
  }
  // Every rank must throw together, with the same message (rank 0 prints it): the lowest
  // world rank that saw a difference tells the others what it saw.
  int64_t minus_reporter[1] = {problem.empty() ? -int64_t(pg.world->size()) : -int64_t(me)}; // max = -min
  pg.world->all_reduce(minus_reporter, 1, ReduceOp::max);
  const int reporter = int(-minus_reporter[0]);
  if (reporter == pg.world->size())
    return;
  int64_t length[1] = {int64_t(problem.size())};
  pg.world->broadcast(length, 1, DType::i64, reporter);
  problem.resize(size_t(length[0]));
  pg.world->broadcast(problem.data(), problem.size(), DType::u8, reporter);
  throw Error("replica check after step " + std::to_string(step) +
              ": parameters that must be identical differ (" + problem +
              "); the run is no longer consistent: resume from the last checkpoint");
}

} // namespace glm3d
