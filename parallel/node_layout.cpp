#include "parallel/node_layout.h"

#include "parallel/agreement.h"

namespace glm3d {

NodeLayout node_layout(MPI_Comm comm) {
  NodeLayout n;
  if (!mpi_active())
    return n;
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &n.local_rank);
  MPI_Comm_size(node, &n.local_size);
  MPI_Comm_free(&node);
  int first = n.local_rank == 0 ? 1 : 0;
  MPI_Allreduce(&first, &n.nodes, 1, MPI_INT, MPI_SUM, comm);
  return n;
}

} // namespace glm3d
