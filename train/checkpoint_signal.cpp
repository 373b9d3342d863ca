#include "train/checkpoint_signal.h"

#include "parallel/mpi_check.h"

#include <cstdio>
#include <pthread.h>
#include <unistd.h>

namespace glm3d {

namespace {

sigset_t stop_set() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGUSR1);
  return s;
}

// A forked child (Open MPI's singleton orted) starts unblocked but ignoring the three signals
// (kept across exec until it installs its own handlers): until its setsid() it is in our process
// group, where a Ctrl-C or `timeout` would otherwise kill it in the middle of MPI_Init.
extern "C" void ignore_in_child() {
  const sigset_t s = stop_set();
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1})
    sigaction(sig, &ign, nullptr); // also discards any already pending
  pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
}

// Ctrl-C twice: end the process as SIGINT's default action would (its parent sees "killed by
// SIGINT"); only this thread unblocks it, so the kernel delivers it here.
[[noreturn]] void die_by_sigint() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGINT, &dfl, nullptr);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  raise(SIGINT);
  _exit(128 + SIGINT);
}

} // namespace

const char* signal_name(int sig) {
  switch (sig) {
  case SIGINT:
    return "SIGINT";
  case SIGTERM:
    return "SIGTERM";
  case SIGUSR1:
    return "SIGUSR1";
  default:
    return "a signal";
  }
}

StopSignals::StopSignals() : set_(stop_set()) {
  static const bool atfork_registered = pthread_atfork(nullptr, nullptr, ignore_in_child) == 0;
  (void)atfork_registered;
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  thread_ = std::thread([this] { listen(); }); // inherits the mask: sigtimedwait needs it blocked
}

StopSignals::~StopSignals() {
  closing_.store(true);
  pthread_kill(thread_.native_handle(), SIGUSR1); // wakes the listener (at the latest 1 s later)
  thread_.join();
}

void StopSignals::listen() {
  // The timeout only matters if SIGUSR1 is ignored (inherited SIG_IGN discards the wake-up).
  const timespec poll{1, 0};
  while (!closing_.load()) {
    const int sig = sigtimedwait(&set_, nullptr, &poll);
    if (sig < 0 || closing_.load()) // timeout, EINTR (another signal's handler ran here), or the end
      continue;
    int none = 0;
    if (first_.compare_exchange_strong(none, sig)) {
      if (announce_.load()) {
        std::fprintf(
            stderr,
            "glm3d: %s received: stopping after the current step, with a checkpoint if --save is set%s\n",
            signal_name(sig), sig == SIGINT ? "; Ctrl-C again quits at once without saving" : "");
        std::fflush(stderr);
      }
    } else if (sig == SIGINT) {
      if (announce_.load()) {
        std::fprintf(stderr, "glm3d: SIGINT after a stop request: quitting at once, without saving\n");
        std::fflush(stderr);
      }
      die_by_sigint();
    }
  }
}

int agree_on_stop(const StopSignals* stop, MPI_Comm world) {
  int sig = stop ? stop->signal_number() : 0;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &sig, 1, MPI_INT, MPI_MAX, world));
  return sig;
}

} // namespace glm3d
