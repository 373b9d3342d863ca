#include "parallel/agreement.h"

#include "core/check.h"

#include <algorithm>
#include <cstdint>

namespace glm3d {

bool mpi_active() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

void comm_rank_size(MPI_Comm comm, int& rank, int& size) {
  rank = 0, size = 1;
  if (!mpi_active())
    return;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
}

void bcast_string(MPI_Comm comm, std::string& s, int root) {
  if (!mpi_active())
    return;
  uint64_t n = s.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm);
  s.resize(n);
  for (uint64_t at = 0; at < n; at += (1u << 30)) // below INT_MAX elements per call
    MPI_Bcast(s.data() + at, int(std::min<uint64_t>(n - at, 1u << 30)), MPI_CHAR, root, comm);
}

void run_agreed(MPI_Comm comm, const std::function<void()>& fn) {
  int kind = 0; // 0 ok, 1 UsageError, 2 other
  std::string msg;
  try {
    fn();
  } catch (const UsageError& e) {
    kind = 1, msg = e.what();
  } catch (const std::exception& e) {
    kind = 2, msg = e.what();
  }
  int rank = 0, size = 1;
  comm_rank_size(comm, rank, size);
  int first = kind ? rank : size;
  if (mpi_active()) {
    int mine = first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  }
  if (first == size)
    return;
  if (mpi_active()) {
    MPI_Bcast(&kind, 1, MPI_INT, first, comm);
    bcast_string(comm, msg, first);
  }
  if (kind == 1)
    throw UsageError(msg);
  throw Error(msg);
}

void run_on_root(MPI_Comm comm, int root, const std::function<void()>& fn) {
  int rank = 0, size = 1;
  comm_rank_size(comm, rank, size);
  run_agreed(comm, [&] {
    if (rank == root)
      fn();
  });
}

} // namespace glm3d
