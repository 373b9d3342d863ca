#pragma once
// Watchdog: a thread that ends the job when this rank makes no progress for
// `timeout_s` seconds (--hang-timeout). Progress is any communication call entering
// or returning (recorded by the communicators into the OpTracker) or a step's
// heartbeat. On expiry it prints one line naming this rank and the call it is blocked
// in, e.g.
//   glm3d: hang: rank 3 made no progress for 30 s: blocked 30.0 s in wait(irecv) on
//   group pp (rank 1 of 2) with peer 0 tag 4, 2048 elements
// waits a short grace period so the other ranks (whose watchdogs fire at about the
// same time, since they wait on this one) can print theirs, then calls MPI_Abort,
// which ends every rank under mpirun and srun. MPI_Abort from this second thread is
// outside MPI_THREAD_FUNNELED's promise; Open MPI and MPICH both implement it as a
// process-level kill, and a hung job has nothing better left.
#include "parallel/op_tracker.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace glm3d {

class Watchdog {
public:
  // timeout_s <= 0: no thread, nothing is watched.
  Watchdog(double timeout_s, int rank, const OpTracker& tracker);
  ~Watchdog(); // stops the thread
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  static constexpr int kExitCode = 3; // the MPI_Abort code of a hang

private:
  void run();

  double timeout_s_;
  int rank_;
  const OpTracker& tracker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace glm3d
