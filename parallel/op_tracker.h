#pragma once
// OpTracker: which communication call this rank is blocked in, and when it last made
// progress, for the hang watchdog (train/watchdog.h). Communicators given a tracker
// (Communicator::set_tracker) record each blocking call and each wait on a
// non-blocking request while it blocks; the trainer adds a heartbeat per step.
// Written by the training thread, read by the watchdog thread: every member is
// guarded by one mutex (a lock per MPI call costs nothing next to the call).
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace glm3d {

// One communication call, described well enough to find the peer that never came.
struct CommOp {
  const char* kind = ""; // "all_reduce", "wait(irecv)", ...
  std::string group;     // "dp", "pp", ...
  int group_rank = 0, group_size = 1;
  int peer = -1, tag = -1; // p2p only
  size_t count = 0;        // elements
};

class OpTracker {
public:
  using Clock = std::chrono::steady_clock;
  OpTracker() : last_progress_(Clock::now()) {}

  void enter(CommOp op); // a blocking call begins (counts as progress)
  void leave();          // it returned (counts as progress)
  void heartbeat();      // progress outside communication (a step finished)

  double idle_s() const; // seconds since the last progress
  // "blocked 31.0 s in all_reduce on group dp (rank 1 of 2), 1024 elements" or
  // "not in a communication call (last progress 31.0 s ago; computing or stuck outside MPI)".
  std::string describe() const;

private:
  mutable std::mutex mu_;
  bool in_op_ = false;
  CommOp op_;
  Clock::time_point last_progress_;
};

// Records op on tracker (may be null) for the lifetime of the scope.
class TrackedOp {
public:
  TrackedOp(OpTracker* t, CommOp op) : t_(t) {
    if (t_)
      t_->enter(std::move(op));
  }
  ~TrackedOp() {
    if (t_)
      t_->leave();
  }
  TrackedOp(const TrackedOp&) = delete;
  TrackedOp& operator=(const TrackedOp&) = delete;

private:
  OpTracker* t_;
};

} // namespace glm3d
