#include "launch/mpi_session.h"

#include "core/check.h"
#include "parallel/node_layout.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <signal.h>
#include <string>
#include <thread>
#include <unistd.h>

namespace glm3d {

namespace {

// Open MPI's launchers (mpirun's orted, srun --mpi=pmix) put these in each rank's environment.
bool started_by_a_launcher() {
  return std::getenv("PMIX_RANK") != nullptr || std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr;
}

// "<tmp>/ompi.glm3d.<uid>.": the prefix of every singleton's own session directory.
std::string singleton_dir_prefix() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ompi.glm3d." +
         std::to_string(::getuid()) + ".";
}

// Removes the session directories of singletons that are gone without MPI_Finalize (killed,
// or quit at once on a second Ctrl-C): those whose process id no longer exists.
void remove_stale_singleton_dirs(const std::string& prefix) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(prefix).parent_path();
  const std::string stem = fs::path(prefix).filename().string();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(stem, 0) != 0)
      continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + stem.size(), &end, 10);
    if (pid > 0 && *end == '\0' && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      fs::remove_all(entry.path(), ec);
  }
}

} // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  // A glm3d started without a launcher is an Open MPI singleton, whose MPI_Init forks a daemon
  // (orted) into glm3d's process group: a Ctrl-C or SIGTERM to the group during start-up killed
  // that daemon and MPI_Init failed ("Unable to start a daemon on the local node", exit 1)
  // instead of glm3d stopping before step 1. An isolated singleton starts no daemon; glm3d never
  // spawns processes. But every isolated singleton is job 1 of job family 0, so concurrent ones
  // shared one session directory (/tmp/ompi.<host>.<uid>/jf.0/1), the first to finish removed it,
  // and the others' MPI-IO failed to open files (MPI_File_open: the sharedfp component's mmap
  // file was gone). Each singleton therefore gets its own top session directory, which
  // MPI_Finalize removes whole (checked: singleton_sessions). The user's settings win.
  if (!started_by_a_launcher()) {
    setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
    if (std::getenv("OMPI_MCA_orte_top_session_dir") == nullptr) {
      const std::string prefix = singleton_dir_prefix();
      remove_stale_singleton_dirs(prefix);
      setenv("OMPI_MCA_orte_top_session_dir", (prefix + std::to_string(::getpid())).c_str(), 1);
    }
  }
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  // Errors come back as codes (checked by MPI_CHECK) instead of aborting silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  ctx_.world = MPI_COMM_WORLD;
  MPI_Comm_rank(MPI_COMM_WORLD, &ctx_.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ctx_.world_size);
  ctx_.local_rank = node_layout(MPI_COMM_WORLD).local_rank;
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
