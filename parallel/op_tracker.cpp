#include "parallel/op_tracker.h"

#include <cstdio>

namespace glm3d {

void OpTracker::enter(CommOp op) {
  std::lock_guard<std::mutex> lock(mu_);
  op_ = std::move(op);
  in_op_ = true;
  last_progress_ = Clock::now();
}

void OpTracker::leave() {
  std::lock_guard<std::mutex> lock(mu_);
  in_op_ = false;
  last_progress_ = Clock::now();
}

void OpTracker::heartbeat() {
  std::lock_guard<std::mutex> lock(mu_);
  last_progress_ = Clock::now();
}

double OpTracker::idle_s() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::chrono::duration<double>(Clock::now() - last_progress_).count();
}

std::string OpTracker::describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  const double idle = std::chrono::duration<double>(Clock::now() - last_progress_).count();
  char buf[512];
  if (!in_op_) {
    std::snprintf(buf, sizeof buf,
                  "not in a communication call (last progress %.1f s ago; computing or stuck outside MPI)",
                  idle);
    return buf;
  }
  int n = std::snprintf(buf, sizeof buf, "blocked %.1f s in %s on group %s (rank %d of %d)", idle, op_.kind,
                        op_.group.c_str(), op_.group_rank, op_.group_size);
  if (op_.peer >= 0 && n > 0 && size_t(n) < sizeof buf)
    n += op_.tag >= 0
             ? std::snprintf(buf + n, sizeof buf - size_t(n), " with peer %d tag %d", op_.peer, op_.tag)
             : std::snprintf(buf + n, sizeof buf - size_t(n), " with root %d", op_.peer);
  if (n > 0 && size_t(n) < sizeof buf)
    std::snprintf(buf + n, sizeof buf - size_t(n), ", %zu elements", op_.count);
  return buf;
}

} // namespace glm3d
