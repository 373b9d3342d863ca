#include "train/watchdog.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mpi.h>

namespace glm3d {

Watchdog::Watchdog(double timeout_s, int rank, const OpTracker& tracker)
    : timeout_s_(timeout_s), rank_(rank), tracker_(tracker) {
  if (timeout_s_ > 0)
    thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void Watchdog::run() {
  // Poll often enough that the abort comes within ~10% of the timeout.
  const auto poll = std::chrono::duration<double>(std::clamp(timeout_s_ / 10, 0.05, 5.0));
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, poll, [this] { return stop_; })) {
    const double idle = tracker_.idle_s();
    if (idle < timeout_s_)
      continue;
    std::fprintf(stderr, "glm3d: hang: rank %d made no progress for %.0f s (--hang-timeout %g): %s\n", rank_,
                 idle, timeout_s_, tracker_.describe().c_str());
    std::fflush(stderr);
    // Let the other ranks' watchdogs report what they wait on before the abort kills them.
    if (cv_.wait_for(lock, std::chrono::seconds(2), [this] { return stop_; }))
      return;
    MPI_Abort(MPI_COMM_WORLD, kExitCode);
  }
}

} // namespace glm3d
