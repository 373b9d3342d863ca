// glm3d: one binary, git-style subcommands. Starts MPI (the same under mpirun and
// srun --mpi=pmix), finds the local rank with a shared-memory split, dispatches through
// the command table (launch/subcommands.cpp), and turns any exception into one clear
// message and a non-zero exit on EVERY rank: UsageError (bad input) -> 2, anything else -> 1.
#include "launch/commands.h"
#include "launch/mpi_session.h"

int main(int argc, char** argv) {
  glm3d::MpiSession mpi(&argc, &argv);
  const glm3d::RunContext ctx = mpi.context();
  glm3d::Args args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--version")
    args[0] = "version";
  return mpi.run_guarded(
      [&]() -> int { return glm3d::run_command("glm3d", "command", glm3d::glm3d_commands(), args, ctx); });
}
