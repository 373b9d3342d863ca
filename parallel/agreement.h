#pragma once
// Agreement on failure for a phase every rank of a communicator runs together: if fn
// throws on any rank, every rank throws the error of the lowest failing rank (a
// UsageError stays a UsageError), so no rank is left waiting in a later collective and
// the launcher prints one message. Without MPI (unit tests, tools) comm is the group
// of one.
#include <functional>
#include <mpi.h>
#include <string>

namespace glm3d {

bool mpi_active(); // MPI initialised and not finalised
void comm_rank_size(MPI_Comm comm, int& rank, int& size);
void bcast_string(MPI_Comm comm, std::string& s, int root);

void run_agreed(MPI_Comm comm, const std::function<void()>& fn);
// fn runs on `root` only (file-system work done once); its error reaches every rank.
void run_on_root(MPI_Comm comm, int root, const std::function<void()>& fn);

} // namespace glm3d
