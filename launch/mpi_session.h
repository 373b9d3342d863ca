#pragma once
// MpiSession: MPI's lifetime (RAII) and the error policy of every glm3d command.
//
// run_guarded(fn) runs a command; if it throws on some ranks, the failing ranks
// enter a short agreement: every rank that failed joins a non-blocking barrier.
// If all ranks failed (a bad option, an impossible layout: every rank saw the same
// problem) rank 0 prints the message once and all exit with the same code after
// MPI_Finalize. If only some failed within the grace period, the first failing
// rank prints its message and calls MPI_Abort, which ends every rank with a
// non-zero status instead of leaving the others waiting in a collective.
#include "launch/commands.h"

#include <functional>

namespace glm3d {

class MpiSession {
public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  RunContext context() const { return ctx_; }
  int run_guarded(const std::function<int()>& fn);

private:
  RunContext ctx_;
  MPI_Comm agree_ = MPI_COMM_NULL; // private duplicate of the world for the failure agreement
};

} // namespace glm3d
