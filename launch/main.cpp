// glm3d: one binary, git-style subcommands. Starts MPI (the same under mpirun and
// srun --mpi=pmix), finds the local rank with a shared-memory split, dispatches,
// and turns any exception into one clear message and a non-zero exit on EVERY rank:
// UsageError (bad input) -> 2, anything else -> 1.
#include "core/check.h"
#include "launch/commands.h"
#include "launch/mpi_session.h"
#include "train/checkpoint_signal.h"

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

namespace {

void usage() {
  std::printf(
      "usage: glm3d <command> [options]\n\n"
      "commands:\n"
      "  train    pretrain a GLM on 1..N MPI ranks, any tp x pp x dp layout\n"
      "  prep     raw text / JSONL -> SentencePiece tokenizer -> sharded HDF5 token store\n"
      "  data     inspect what the model is fed (glm3d data sample DIR --count N --out FILE.h5)\n"
      "  ckpt     checkpoints: inspect, verify, export (bf16, --to chatglm-6b), import --from chatglm-6b\n"
      "  eval     forward pass of a checkpoint on samples: logits and per-sample loss\n"
      "  version  print the version\n\n"
      "`glm3d <command> --help` lists a command's options.\n");
}

} // namespace

int main(int argc, char** argv) {
  // First, while this is the only thread: `train` takes SIGINT, SIGTERM and SIGUSR1 as stop
  // requests (train/checkpoint_signal.h); the other commands keep the default (end at once).
  std::optional<glm3d::StopSignals> stop_signals;
  if (argc > 1 && !std::strcmp(argv[1], "train"))
    stop_signals.emplace();
  glm3d::MpiSession mpi(&argc, &argv);
  glm3d::RunContext ctx = mpi.context();
  if (stop_signals) {
    stop_signals->set_announce(ctx.rank == 0);
    ctx.stop_signals = &*stop_signals;
  }
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    if (ctx.rank == 0)
      usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  const glm3d::Args args(argv + 2, argv + argc);
  return mpi.run_guarded([&]() -> int {
    if (cmd == "train")
      return glm3d::cmd_train(args, ctx);
    if (cmd == "prep")
      return glm3d::cmd_prep(args, ctx);
    if (cmd == "data")
      return glm3d::cmd_data(args, ctx);
    if (cmd == "ckpt")
      return glm3d::cmd_ckpt(args, ctx);
    if (cmd == "eval")
      return glm3d::cmd_eval(args, ctx);
    if (cmd == "version") {
      if (ctx.rank == 0)
        std::printf("glm3d %s\n", GLM3D_VERSION);
      return 0;
    }
    throw glm3d::UsageError("unknown command '" + cmd + "' (try glm3d --help)");
  });
}
