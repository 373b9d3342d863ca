// StopSignals (train/checkpoint_signal.h): a stop signal sent to the process is recorded by the
// listener thread, never runs code in the interrupted thread, keeps the first signal's number,
// leaves forked children with the usual mask, and a SIGINT after a request ends the process.
#include "train/checkpoint_signal.h"

#include <chrono>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

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

TEST(StopSignals, AForkedChildStartsWithTheSignalsUnblocked) {
  StopSignals s;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0)
    _exit(blocked_here(SIGINT) || blocked_here(SIGTERM) || blocked_here(SIGUSR1) ? 1 : 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
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
