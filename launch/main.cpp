// glm3d: one binary, git-style subcommands. Starts MPI (the same under mpirun and
// srun --mpi=pmix), finds the local rank with a shared-memory split, dispatches through
// the command table (launch/subcommands.cpp), and turns any exception into one clear
// message and a non-zero exit on EVERY rank: UsageError (bad input) -> 2, anything else -> 1.
#include "launch/commands.h"
#include "launch/heap_policy.h"
#include "launch/mpi_session.h"
#include "train/checkpoint_signal.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <optional>

int main(int argc, char** argv) {
  // First, while this is the only thread: `train` takes SIGINT, SIGTERM and SIGUSR1 as stop
  // requests (train/checkpoint_signal.h); the other commands keep the default (end at once).
  const auto command_is_one_of = [&](std::initializer_list<const char*> names) {
    return argc > 1 &&
           std::any_of(names.begin(), names.end(), [&](const char* n) { return !std::strcmp(argv[1], n); });
  };
  std::optional<glm3d::StopSignals> stop_signals;
  if (command_is_one_of({"train", "finetune"}))
    stop_signals.emplace();
  // Before MPI and the model allocate: the step loops keep freed memory (launch/heap_policy.h).
  if (command_is_one_of({"train", "finetune", "eval", "bench"}))
    glm3d::keep_freed_memory_for_reuse();
  glm3d::MpiSession mpi(&argc, &argv);
  glm3d::RunContext ctx = mpi.context();
  if (stop_signals) {
    stop_signals->set_announce(ctx.rank == 0);
    ctx.stop_signals = &*stop_signals;
  }
  glm3d::Args args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--version")
    args[0] = "version";
  return mpi.run_guarded(
      [&]() -> int { return glm3d::run_command("glm3d", "command", glm3d::glm3d_commands(), args, ctx); });
}
