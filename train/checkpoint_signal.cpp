#include "train/checkpoint_signal.h"

#include <csignal>

namespace glm3d {

namespace {
// A signal handler can only reach static storage; this flag is the one piece of process-wide
// mutable state, written by the handler and read by the training loop.
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) {
  g_stop_signal = sig;
}

struct sigaction g_old_term, g_old_usr1;
} // namespace

StopSignals::StopSignals() {
  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART; // MPI and file I/O calls continue; the loop checks the flag
  sigaction(SIGTERM, &sa, &g_old_term);
  sigaction(SIGUSR1, &sa, &g_old_usr1);
}

StopSignals::~StopSignals() {
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGUSR1, &g_old_usr1, nullptr);
}

bool StopSignals::requested() const {
  return g_stop_signal != 0;
}
int StopSignals::signal_number() const {
  return int(g_stop_signal);
}

} // namespace glm3d
