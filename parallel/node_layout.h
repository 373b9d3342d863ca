#pragma once
// Where a rank sits among the ranks that share its node (MPI_COMM_TYPE_SHARED), and how many
// nodes the job spans. Collective over comm. A process without MPI running is one rank on one node.
#include <mpi.h>

namespace glm3d {

struct NodeLayout {
  int local_rank = 0; // rank among the node's ranks (ordered as in comm)
  int local_size = 1; // ranks on this node
  int nodes = 1;      // nodes of the job
};

NodeLayout node_layout(MPI_Comm comm);

} // namespace glm3d
