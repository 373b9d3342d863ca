#pragma once
// Subcommands of the glm3d binary. main() (launch/main.cpp) starts MPI, dispatches
// on argv[1] and maps exceptions to exit codes (UsageError -> 2, others -> 1) on
// every rank. Each command parses its own options (Boost.Program_options; every
// option also accepted from an INI file given with --config).
#include <mpi.h>
#include <string>
#include <vector>

namespace glm3d {

class StopSignals;

struct RunContext {
  MPI_Comm world = MPI_COMM_WORLD;
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;                        // rank within the node (shared-memory split)
  const StopSignals* stop_signals = nullptr; // `train` only: SIGINT/SIGTERM/SIGUSR1 as stop requests
};

using Args = std::vector<std::string>; // arguments after the subcommand name

int cmd_train(const Args& args, const RunContext& ctx); // launch/cmd_train.cpp
int cmd_prep(const Args& args, const RunContext& ctx);  // launch/cmd_prep.cpp
int cmd_data(const Args& args, const RunContext& ctx);  // launch/cmd_data.cpp  (glm3d data sample ...)
int cmd_ckpt(const Args& args,
             const RunContext& ctx); // launch/cmd_ckpt.cpp  (inspect, verify, export, import)
int cmd_eval(const Args& args, const RunContext& ctx); // launch/cmd_eval.cpp

} // namespace glm3d
