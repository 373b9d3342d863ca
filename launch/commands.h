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
  std::string command;                       // what runs: "train", "ckpt export" (--config sections, hints)
  const StopSignals* stop_signals = nullptr; // `train` only: SIGINT/SIGTERM/SIGUSR1 as stop requests
};

using Args = std::vector<std::string>; // arguments after the subcommand name

int cmd_train(const Args& args, const RunContext& ctx);    // launch/cmd_train.cpp
int cmd_finetune(const Args& args, const RunContext& ctx); // launch/cmd_train.cpp
int cmd_prep(const Args& args, const RunContext& ctx);     // launch/cmd_prep.cpp
int cmd_data(const Args& args, const RunContext& ctx);     // launch/cmd_data.cpp  (glm3d data sample ...)
int cmd_ckpt(const Args& args,
             const RunContext& ctx); // launch/cmd_ckpt.cpp  (inspect, verify, export, import)
int cmd_ckpt_reshard(const Args& args, const RunContext& ctx);    // launch/cmd_ckpt_reshard.cpp
int cmd_ckpt_merge_lora(const Args& args, const RunContext& ctx); // launch/cmd_ckpt_merge.cpp
int cmd_eval(const Args& args, const RunContext& ctx);            // launch/cmd_eval.cpp
int cmd_plan(const Args& args, const RunContext& ctx);            // launch/cmd_plan.cpp
int cmd_bench(const Args& args, const RunContext& ctx);           // launch/cmd_bench.cpp (slice, matmul)
int cmd_generate(const Args& args, const RunContext& ctx);        // launch/cmd_generate.cpp
int cmd_chat(const Args& args, const RunContext& ctx);            // launch/cmd_chat.cpp
int cmd_ckpt_quantize(const Args& args, const RunContext& ctx);   // launch/cmd_ckpt_quantize.cpp

// glm3d prep sft (dispatched by cmd_prep): launch/cmd_prep_sft.cpp.
int cmd_prep_sft(const Args& args, const RunContext& ctx);

// A command, or an action of one (ckpt inspect, data sample), in a table.
struct Command {
  const char* name;
  const char* summary; // one line for the listing
  int (*run)(const Args& args, const RunContext& ctx);
};

// glm3d's commands: train, prep, data, ckpt, eval, version (launch/subcommands.cpp).
const std::vector<Command>& glm3d_commands();

// `PROG NAME args...`: runs the table's NAME with args and ctx.command extended by NAME. With
// --help, -h or help: the table as a listing on rank 0, 0. With nothing: the listing, 2. An unknown
// NAME: UsageError with "did you mean". word: "command" or "action", for the listing.
int run_command(const std::string& prog, const std::string& word, const std::vector<Command>& table,
                const Args& args, const RunContext& ctx);

} // namespace glm3d
