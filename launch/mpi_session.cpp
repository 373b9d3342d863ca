#include "launch/mpi_session.h"

#include "core/check.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace glm3d {

MpiSession::MpiSession(int* argc, char*** argv) {
  // A glm3d started without a launcher is an Open MPI singleton, whose MPI_Init forks a daemon
  // (orted) into glm3d's process group: a Ctrl-C or SIGTERM to the group during start-up killed
  // that daemon and MPI_Init failed ("Unable to start a daemon on the local node", exit 1)
  // instead of glm3d stopping before step 1. An isolated singleton starts no daemon; glm3d never
  // spawns processes. Under mpirun or srun this parameter is not read; the user's setting wins.
  setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  // Errors come back as codes (checked by MPI_CHECK) instead of aborting silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  ctx_.world = MPI_COMM_WORLD;
  MPI_Comm_rank(MPI_COMM_WORLD, &ctx_.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ctx_.world_size);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, ctx_.rank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &ctx_.local_rank);
  MPI_Comm_free(&node);
  // Made now, while every rank is here: a failing rank must never enter a blocking collective.
  MPI_Comm_dup(MPI_COMM_WORLD, &agree_);
}

MpiSession::~MpiSession() {
  MPI_Comm_free(&agree_);
  MPI_Finalize();
}

int MpiSession::run_guarded(const std::function<int()>& fn) {
  int code = 0;
  std::string message;
  try {
    code = fn();
  } catch (const UsageError& e) {
    code = 2;
    message = e.what();
  } catch (const std::exception& e) {
    code = 1;
    message = e.what();
  }
  if (message.empty())
    return code;
  if (ctx_.world_size == 1) {
    std::fprintf(stderr, "glm3d: error: %s\n", message.c_str());
    return code;
  }
  // Did every rank fail? Failing ranks join a barrier on a private duplicate of the
  // world; if all arrive within the grace period, everyone failed together.
  MPI_Request req;
  MPI_Ibarrier(agree_, &req);
  int done = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (!done)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (done) {
    if (ctx_.rank == 0)
      std::fprintf(stderr, "glm3d: error: %s\n", message.c_str());
    return code;
  }
  std::fprintf(stderr, "glm3d: error on rank %d: %s\n", ctx_.rank, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  return code;
}

} // namespace glm3d
