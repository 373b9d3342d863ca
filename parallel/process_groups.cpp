// ProcessGroups: MPI_Comm_split per group with colour/key taken from the group lists.
#include "parallel/process_groups.h"

#include "core/check.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_communicator.h"

#include <algorithm>

namespace glm3d {

namespace {

// Splits `world` so that this rank lands in `group` (world ranks in group-rank order);
// an empty group means "not a member" (MPI_UNDEFINED) and yields null.
std::unique_ptr<Communicator> split(MPI_Comm world, int rank, const std::vector<int>& group,
                                    const char* name) {
  int color = MPI_UNDEFINED, key = 0;
  if (!group.empty()) {
    color = *std::min_element(group.begin(), group.end());
    key = int(std::find(group.begin(), group.end(), rank) - group.begin());
    GLM3D_CHECK(key < int(group.size())) << "rank " << rank << " missing from its own " << name << " group";
  }
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_CHECK(MPI_Comm_split(world, color, key, &comm));
  if (comm == MPI_COMM_NULL)
    return nullptr;
  return std::make_unique<MpiCommunicator>(comm, name);
}

} // namespace

ProcessGroups ProcessGroups::create(MPI_Comm world_comm, const ParallelDims& dims) {
  ProcessGroups g;
  g.dims = dims;
  auto world = MpiCommunicator::dup(world_comm, "world");
  GLM3D_USAGE_CHECK(world->size() == dims.world)
      << "parallel layout " << dims.str() << " does not match the " << world->size() << " MPI ranks running";
  g.rank = world->rank();
  const MPI_Comm w = world->comm();
  // Every rank takes part in every split, in the same order (MPI_Comm_split is collective).
  g.tp = split(w, g.rank, dims.tp_group(g.rank), "tp");
  g.dp = split(w, g.rank, dims.dp_group(g.rank), "dp");
  g.pp = split(w, g.rank, dims.pp_group(g.rank), "pp");
  g.embedding = split(w, g.rank, dims.embedding_group(g.rank), "embedding");
  g.model_parallel = split(w, g.rank, dims.model_parallel_group(g.rank), "model_parallel");
  g.world = std::move(world);
  return g;
}

ProcessGroups ProcessGroups::local(int virtual_stages) {
  ProcessGroups g;
  g.dims = ParallelDims::make(1, 1, 1, 1, virtual_stages);
  g.rank = 0;
  g.world = std::make_unique<LocalCommunicator>("world");
  g.tp = std::make_unique<LocalCommunicator>("tp");
  g.dp = std::make_unique<LocalCommunicator>("dp");
  g.pp = std::make_unique<LocalCommunicator>("pp");
  g.embedding = std::make_unique<LocalCommunicator>("embedding");
  g.model_parallel = std::make_unique<LocalCommunicator>("model_parallel");
  return g;
}

std::map<std::string, uint64_t> ProcessGroups::bytes_by_group() const {
  std::map<std::string, uint64_t> m;
  for (const auto* c : {&world, &tp, &dp, &pp, &embedding, &model_parallel}) {
    if (*c)
      m[(*c)->name()] = (*c)->bytes_moved();
  }
  m.try_emplace("embedding", 0);
  return m;
}

void ProcessGroups::reset_bytes() {
  for (auto* c : {&world, &tp, &dp, &pp, &embedding, &model_parallel})
    if (*c)
      (*c)->reset_bytes();
}

} // namespace glm3d
