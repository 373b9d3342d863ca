// StopSignals (train/checkpoint_signal.h): a stop signal sent to the process is recorded by the
// listener thread, never runs code in the interrupted thread, keeps the first signal's number,
// leaves forked children with the usual mask, and a SIGINT after a request ends the process.
#include "core/cpu/onednn.h"
#include "train/checkpoint_signal.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace glm3d {
namespace {

using namespace std::chrono_literals;

bool blocked_here(int sig) {
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, nullptr, &cur);
  return sigismember(&cur, sig) == 1;
}

// Until the listener has taken a signal (at most 10 s).
int wait_for_request(const StopSignals& s) {
  for (int i = 0; i < 10000 && !s.requested(); ++i)
    std::this_thread::sleep_for(1ms);
  return s.signal_number();
}

TEST(StopSignals, RecordsTheFirstSignalAndTheProcessGoesOn) {
  StopSignals s;
  s.set_announce(false);
  EXPECT_FALSE(s.requested());
  // Process-directed, as from kill(1), mpirun's forwarding or Slurm.
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  EXPECT_EQ(wait_for_request(s), SIGUSR1);
  // SIGTERM's default action would end this test; here it is only one more request.
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(s.signal_number(), SIGUSR1);
  EXPECT_STREQ(signal_name(SIGUSR1), "SIGUSR1");
  EXPECT_STREQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_STREQ(signal_name(SIGINT), "SIGINT");
}

TEST(StopSignals, BlockedInThisThreadAndInEveryThreadMadeLater) {
  StopSignals s;
  for (int sig : {SIGINT, SIGTERM, SIGUSR1})
    EXPECT_TRUE(blocked_here(sig)) << sig;
  bool later = false;
  std::thread([&] { later = blocked_here(SIGINT) && blocked_here(SIGTERM) && blocked_here(SIGUSR1); }).join();
  EXPECT_TRUE(later);
}

// Open MPI's singleton orted is forked from MPI_Init and stays in our process group until its
// setsid(): it must neither inherit the blocked mask nor die of a Ctrl-C sent to the group.
TEST(StopSignals, AForkedChildHasTheSignalsUnblockedAndIgnored) {
  StopSignals s;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool ok = true;
    for (int sig : {SIGINT, SIGTERM, SIGUSR1}) {
      struct sigaction cur {};
      sigaction(sig, nullptr, &cur);
      ok = ok && !blocked_here(sig) && cur.sa_handler == SIG_IGN;
    }
    kill(getpid(), SIGTERM); // ignored: the child goes on to its exit code
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The hazard itself. oneDNN 2.6's f32 gemm:jit kernel (jit_avx512_common_gemm_f32), which runs
// glm3d's batched attention products, points rsp at a heap workspace when K > 84; a signal
// handler run on that thread writes its frame below rsp, into the heap (oneDNN issue #4845), and
// a later free aborts ("corrupted size vs. prev_size while consolidating"). Here thousands of
// process-directed SIGUSR1 arrive during such products ([12 heads] [128 x 128] x [128 x 64], the
// probabilities times V at sequence 128, layouts as DNNL_VERBOSE printed them for glm3d, where
// gemm:jit ran them): with StopSignals no handler runs, the heap survives the allocations next
// to the workspace, and every product is exact. With the design before (a SIGUSR1 handler that
// only set a flag, the signal unblocked on this thread) this test aborted in 3 runs of 3, with
// "free(): invalid pointer" or "corrupted size vs. prev_size while consolidating".
TEST(StopSignals, SignalsDuringOneDnnJitGemmLeaveTheHeapIntact) {
  StopSignals s;
  s.set_announce(false);
  const int64_t H = 12, M = 128, K = 128, N = 64;
  const cpu::detail::MatmulLayout l{H, M, N, K, {M * K, K, 1}, {N, H * N, 1}, {N, H * N, 1}};
  std::vector<float> A(size_t(H * M * K), 1.0f), B(size_t(K * H * N), 0.5f), C(size_t(M * H * N));
  std::atomic<bool> done{false};
  std::thread sender([&] {
    while (!done.load()) {
      kill(getpid(), SIGUSR1);
      std::this_thread::sleep_for(50us);
    }
  });
  int64_t wrong = 0;
  for (int i = 0; i < 3000; ++i) {
    std::fill(C.begin(), C.end(), std::nanf(""));
    cpu::detail::strided_matmul_f32(l, A.data(), B.data(), C.data(), 1.0f, false);
    for (float c : C)
      wrong += c != 0.5f * K;                            // exact: sums of 128 halves
    std::vector<char> churn(size_t(1000 + i % 5000), 1); // blocks allocated and freed next to it
    EXPECT_EQ(churn.back(), 1);
  }
  done.store(true);
  sender.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(s.signal_number(), SIGUSR1);
}

TEST(StopSignalsDeathTest, SigintAfterARequestEndsTheProcessBySigint) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        StopSignals s;
        kill(getpid(), SIGTERM);
        wait_for_request(s);
        kill(getpid(), SIGINT);
        std::this_thread::sleep_for(10s);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGINT), "SIGINT after a stop request: quitting at once, without saving");
}

} // namespace
} // namespace glm3d
