#pragma once
// ProcessGroups: one communicator per parallel group of this rank, carved from a world
// communicator with MPI_Comm_split by the group math of ParallelDims (colour = the
// group's smallest world rank, key = position in the group list), so the MPI groups
// are exactly the lists ParallelDims returns.
//
// The embedding group (first and last pipeline stage, for the tied embedding) exists
// only on those stages: on a middle stage `embedding` is null. With pp == 1 it is the
// rank alone (size 1).
#include "parallel/communicator.h"
#include "parallel/parallel_dims.h"

#include <map>
#include <memory>
#include <mpi.h>
#include <string>

namespace glm3d {

struct ProcessGroups {
  ParallelDims dims;
  int rank = 0; // world rank
  std::unique_ptr<Communicator> world, tp, dp, pp, embedding, model_parallel;

  // Collective over `world_comm`: every rank calls it with the same dims. The world
  // communicator is duplicated, so the caller keeps ownership of `world_comm`.
  static ProcessGroups create(MPI_Comm world_comm, const ParallelDims& dims);
  // One process, no MPI: every group is a LocalCommunicator (unit tests, 1-rank runs).
  static ProcessGroups local(int virtual_stages = 1);

  int tp_rank() const { return dims.tp_rank(rank); }
  int dp_rank() const { return dims.dp_rank(rank); }
  int pp_rank() const { return dims.pp_rank(rank); }
  bool is_first_stage() const { return pp_rank() == 0; }
  bool is_last_stage() const { return pp_rank() == dims.pp - 1; }
  bool in_embedding_group() const { return embedding != nullptr; }

  // Payload bytes moved through each group since the last reset, keyed by group name
  // ("world", "tp", "dp", "pp", "embedding", "model_parallel"); a missing embedding group
  // reports 0 so every rank has the same keys.
  std::map<std::string, uint64_t> bytes_by_group() const;
  void reset_bytes();
};

} // namespace glm3d
