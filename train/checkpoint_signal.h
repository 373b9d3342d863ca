#pragma once
// StopSignals: SIGINT (Ctrl-C), SIGTERM (kill, Slurm's scancel and time limit) and SIGUSR1
// (Slurm's --signal=USR1@N, launch/local.sh's relay; mpirun forwards it to every rank) become a
// request to stop training gracefully: every rank finishes its current step, the ranks agree
// (agree_on_stop, one all-reduce per step), save with --save, and exit 0. A SIGINT after a
// stop request quits at once, without saving (Ctrl-C twice).
//
// Why no signal handler: oneDNN 2.6's f32 gemm:jit kernel (jit_avx512_common_gemm_f32, which
// runs the attention's batched products) points rsp into a heap workspace when K > 84; a handler
// run on that thread, however trivial, gets its frame pushed below rsp, into the heap, and a later
// free() aborts: "corrupted size vs. prev_size while consolidating", "free(): invalid pointer"
// (oneDNN issue #4845, fixed upstream in 2026 by PR #4855; Debian 12 ships 2.6.3). So no code
// runs in signal context. The constructor, the first statement of main() (before MPI, OpenMP,
// oneDNN or the watchdog start a thread), blocks the three signals; every thread made later
// inherits the mask, so none is ever interrupted by them, and a listener thread takes them with
// sigtimedwait(). A signal in start-up, in a checkpoint save or in shutdown is only recorded.
// Child processes (Open MPI's singleton orted) start with them unblocked and ignored, so a
// signal to our process group cannot kill the orted before it leaves the group. A signal whose
// disposition is SIG_IGN at start (SIGINT of a background job started by a shell without job
// control) stays ignored, as with any program.
#include <atomic>
#include <csignal>
#include <mpi.h>
#include <thread>

namespace glm3d {

class StopSignals {
public:
  StopSignals();  // blocks SIGINT, SIGTERM, SIGUSR1 in the calling thread; starts the listener
  ~StopSignals(); // stops the listener; the signals stay blocked (the process is ending)
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  bool requested() const { return signal_number() != 0; }
  int signal_number() const { return first_.load(); } // the first stop signal (0: none yet)
  // Whether this process prints a line when a signal arrives (only rank 0 does, once MPI
  // says which rank this is; every process until then).
  void set_announce(bool on) { announce_.store(on); }

private:
  void listen();

  sigset_t set_;
  std::atomic<int> first_{0};
  std::atomic<bool> announce_{true};
  std::atomic<bool> closing_{false};
  std::thread thread_;
};

// Collective over world: the stop signal agreed by every rank, the largest signal number
// any rank has received (0: none). stop == nullptr: this process takes no stop signals.
int agree_on_stop(const StopSignals* stop, MPI_Comm world);

// "SIGINT", "SIGTERM", "SIGUSR1" (or "signal N").
const char* signal_name(int sig);

} // namespace glm3d
