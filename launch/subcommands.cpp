// glm3d's command table and the dispatch shared by the binary (glm3d CMD) and the commands
// with actions (glm3d ckpt ACTION, glm3d data ACTION).
#include "core/check.h"
#include "launch/commands.h"
#include "launch/option_aliases.h"

#include <algorithm>
#include <cstdio>

namespace glm3d {

namespace {

int cmd_version(const Args& args, const RunContext& ctx) {
  GLM3D_USAGE_CHECK(args.empty()) << "glm3d version takes no arguments";
  if (ctx.rank == 0)
    std::printf("glm3d %s\n", GLM3D_VERSION);
  return 0;
}

void print_listing(const std::string& prog, const std::string& word, const std::vector<Command>& table) {
  size_t width = 0;
  for (const Command& c : table)
    width = std::max(width, std::string(c.name).size() + 2);
  std::printf("usage: %s <%s> [options]\n\n%ss:\n", prog.c_str(), word.c_str(), word.c_str());
  for (const Command& c : table)
    std::printf("  %-*s%s\n", int(width), c.name, c.summary);
  std::printf("\n`%s <%s> --help` lists %s %s's options.\n", prog.c_str(), word.c_str(),
              word == "action" ? "an" : "a", word.c_str());
}

} // namespace

const std::vector<Command>& glm3d_commands() {
  static const std::vector<Command> table = {
      {"train", "pretrain a GLM on 1..N MPI ranks, any tp x pp x dp layout", cmd_train},
      {"finetune", "adapt a pretrained GLM: full, LoRA, P-tuning v2 or QLoRA, any layout", cmd_finetune},
      {"prep", "text / JSONL -> tokenizer -> HDF5 token store; prep sft: prompt/answer -> SFT store",
       cmd_prep},
      {"data", "inspect what the model is fed (glm3d data sample DIR --count N --out FILE.h5)", cmd_data},
      {"ckpt",
       "checkpoints: inspect, verify, export (bf16, --to chatglm-6b, --to peft), import --from chatglm-6b, "
       "merge-lora",
       cmd_ckpt},
      {"eval", "forward pass of a checkpoint on samples: logits and per-sample loss", cmd_eval},
      {"generate",
       "text from a checkpoint: prompts, blank infilling, batches; KV cache, f32/bf16/int8/int4/nf4",
       cmd_generate},
      {"chat", "a conversation in ChatGLM-6B's format with a checkpoint", cmd_chat},
      {"plan", "memory and step time of a layout, or the best layouts of a job, before anything runs",
       cmd_plan},
      {"bench", "measure this machine: slice (one rank of a big model), matmul (the cpu profile of plan)",
       cmd_bench},
      {"version", "print the version (also glm3d --version)", cmd_version},
  };
  return table;
}

int run_command(const std::string& prog, const std::string& word, const std::vector<Command>& table,
                const Args& args, const RunContext& ctx) {
  const bool help = !args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help");
  if (args.empty() || help) {
    if (ctx.rank == 0)
      print_listing(prog, word, table);
    return help ? 0 : 2;
  }
  std::vector<std::string> names;
  for (const Command& c : table) {
    if (args[0] == c.name) {
      RunContext sub = ctx;
      sub.command = ctx.command.empty() ? c.name : ctx.command + " " + c.name;
      return c.run(Args(args.begin() + 1, args.end()), sub);
    }
    names.push_back(c.name);
  }
  const std::string near = closest_name(args[0], names);
  GLM3D_USAGE_FAIL() << "unknown " << (ctx.command.empty() ? "" : ctx.command + " ") << word << " '"
                     << args[0] << "'"
                     << (near.empty() ? " (see " + prog + " --help)" : "; did you mean '" + near + "'?");
}

} // namespace glm3d
