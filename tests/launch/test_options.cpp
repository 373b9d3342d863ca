// Option handling of the glm3d commands, without MPI: Megatron spellings, "did you mean",
// --config INI rules and their FILE:LINE errors, --help defaults as typed.
#include "core/check.h"
#include "launch/commands.h"
#include "launch/option_aliases.h"
#include "launch/options.h"
#include "usage_error.h"

#include <gtest/gtest.h>
#include <sstream>

using namespace glm3d;

namespace {

// A cut of glm3d train's options: enough for every kind of value and every alias.
struct Opts {
  int64_t steps = 100, global_batch = 8, micro_batch = 1, seq_len = 0, warmup = 10, decay = 0;
  double weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  int tp = 1, pp = 1, zero = 0, virtual_stages = 1;
  bool bf16 = false;
  std::string model = "tiny";
  std::vector<std::string> input;
  po::options_description desc{"test options"};
  Opts() {
    desc.add_options()                                     //
        ("model", defaulted(&model), "")                   //
        ("steps", defaulted(&steps), "")                   //
        ("global-batch", defaulted(&global_batch), "")     //
        ("micro-batch", defaulted(&micro_batch), "")       //
        ("seq-len", defaulted(&seq_len), "")               //
        ("warmup-steps", defaulted(&warmup), "")           //
        ("decay-steps", defaulted(&decay), "")             //
        ("weight-decay", defaulted(&weight_decay), "")     //
        ("beta1", defaulted(&beta1), "")                   //
        ("beta2", defaulted(&beta2), "")                   //
        ("eps", defaulted(&eps), "")                       //
        ("tp", defaulted(&tp), "")                         //
        ("pp", defaulted(&pp), "")                         //
        ("zero", defaulted(&zero), "")                     //
        ("virtual-stages", defaulted(&virtual_stages), "") //
        ("bf16", po::bool_switch(&bf16), "")               //
        ("input", po::value(&input)->multitoken(), "");
  }
  void parse(const Args& args) {
    RunContext ctx;
    ctx.command = "train";
    po::variables_map vm;
    ASSERT_TRUE(parse_options(args, desc, vm, ctx));
  }
};

using test::usage_error_of;
using test::write_temp_file;

} // namespace

TEST(Options, ShortestRepr) {
  EXPECT_EQ(shortest_repr(0.1), "0.1");
  EXPECT_EQ(shortest_repr(1e-8), "1e-08");
  EXPECT_EQ(shortest_repr(0.95), "0.95");
  EXPECT_EQ(shortest_repr(0.9995), "0.9995");
  EXPECT_EQ(shortest_repr(4096.0), "4096");
  EXPECT_EQ(shortest_repr(-1.0), "-1");
}

TEST(Options, HelpShowsDefaultsAsTyped) {
  Opts o;
  std::ostringstream help;
  help << o.desc;
  EXPECT_NE(help.str().find("--weight-decay arg (=0.1)"), std::string::npos) << help.str();
  EXPECT_NE(help.str().find("--eps arg (=1e-08)"), std::string::npos) << help.str();
  EXPECT_NE(help.str().find("--beta2 arg (=0.95)"), std::string::npos) << help.str();
  EXPECT_NE(help.str().find("--model arg (=tiny)"), std::string::npos) << help.str();
  EXPECT_EQ(help.str().find("0.1000"), std::string::npos) << help.str();
}

// Every Megatron spelling lands on its glm3d option, with `=` or a separate value.
TEST(Options, MegatronSpellingsSetTheirOption) {
  Opts o;
  o.parse({"--global-batch-size",
           "32",
           "--micro-batch-size=4",
           "--train-iters",
           "7",
           "--lr-warmup-iters",
           "3",
           "--lr-decay-iters",
           "70",
           "--tensor-model-parallel-size",
           "2",
           "--pipeline-model-parallel-size",
           "4",
           "--num-virtual-stages-per-pipeline-rank",
           "2",
           "--adam-beta1",
           "0.8",
           "--adam-beta2",
           "0.99",
           "--adam-eps",
           "1e-6",
           "--seq-length",
           "64",
           "--use-distributed-optimizer"});
  EXPECT_EQ(o.global_batch, 32);
  EXPECT_EQ(o.micro_batch, 4);
  EXPECT_EQ(o.steps, 7);
  EXPECT_EQ(o.warmup, 3);
  EXPECT_EQ(o.decay, 70);
  EXPECT_EQ(o.tp, 2);
  EXPECT_EQ(o.pp, 4);
  EXPECT_EQ(o.virtual_stages, 2);
  EXPECT_DOUBLE_EQ(o.beta1, 0.8);
  EXPECT_DOUBLE_EQ(o.beta2, 0.99);
  EXPECT_DOUBLE_EQ(o.eps, 1e-6);
  EXPECT_EQ(o.seq_len, 64);
  EXPECT_EQ(o.zero, 1);
}

TEST(Options, AliasOnlyWhereTheTargetExists) {
  po::options_description no_steps("x");
  no_steps.add_options()("seq-len", po::value<int>(), "");
  EXPECT_EQ(apply_aliases({"--train-iters", "3", "--seq-length", "9"}, no_steps),
            (Args{"--train-iters", "3", "--seq-len", "9"}));
  // After a bare `--`, arguments are left alone.
  EXPECT_EQ(apply_aliases({"--", "--seq-length"}, no_steps), (Args{"--", "--seq-length"}));
  // A row whose target is still to come (--recompute) is inert.
  EXPECT_EQ(live_alias("recompute-activations", no_steps), nullptr);
  // A flag alias takes no value.
  Opts o;
  EXPECT_EQ(usage_error_of([&] { o.parse({"--use-distributed-optimizer=1"}); }),
            "option '--use-distributed-optimizer' takes no value");
}

TEST(Options, DidYouMean) {
  Opts o;
  EXPECT_EQ(usage_error_of([&] {
              o.parse({"--stpes", "3"});
            }),
            "unknown option '--stpes'; did you mean '--steps'?");
  EXPECT_EQ(usage_error_of([&] {
              o.parse({"--train-iter", "3"});
            }),
            "unknown option '--train-iter'; did you mean '--train-iters'?");
  EXPECT_EQ(
      usage_error_of([&] {
        o.parse({"--hidden-size", "64"});
      }),
      "unknown option '--hidden-size'; did you mean '--model' (a preset, or a model INI file with hidden = "
      "N)?");
  EXPECT_EQ(
      usage_error_of([&] {
        o.parse({"--num-layers-per-virtual-pipeline-stage", "2"});
      }),
      "unknown option '--num-layers-per-virtual-pipeline-stage'; did you mean '--virtual-stages' (model "
      "chunks per pipeline rank: layers / (pp x layers per chunk), with --schedule interleaved)?");
  EXPECT_EQ(usage_error_of([&] {
              o.parse({"--xyzzy-frobnicate", "1"});
            }),
            "unknown option '--xyzzy-frobnicate' (see glm3d train --help)");
  EXPECT_EQ(edit_distance("stpes", "steps"), 1); // one adjacent swap
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3);
}

// One file with `_` and `-`, sections, both comment characters and Megatron keys gives the
// values of the same settings typed as flags; the command line wins over it.
TEST(Options, ConfigFileEqualsFlags) {
  const std::string ini = write_temp_file("run.ini", "# a run\n"
                                                     "global_batch = 16   ; inline comment\n"
                                                     "[eval]\n"
                                                     "steps = 999         # another command's section\n"
                                                     "[train]\n"
                                                     "micro-batch = 2\n"
                                                     "train_iters = 30\n"
                                                     "weight_decay = 0.05\n"
                                                     "use_distributed_optimizer = true\n"
                                                     "tensor-model-parallel-size = 2\n"
                                                     "bf16 = true\n"
                                                     "input = a.txt b.txt\n"
                                                     "input = c.txt\n");
  Opts a, b;
  a.parse({"--config", ini});
  b.parse({"--global-batch", "16", "--micro-batch", "2", "--steps", "30", "--weight-decay", "0.05", "--zero",
           "1", "--tp", "2", "--bf16", "--input", "a.txt", "b.txt", "c.txt"});
  for (Opts* o : {&a, &b}) {
    EXPECT_EQ(o->global_batch, 16);
    EXPECT_EQ(o->micro_batch, 2);
    EXPECT_EQ(o->steps, 30);
    EXPECT_DOUBLE_EQ(o->weight_decay, 0.05);
    EXPECT_EQ(o->zero, 1);
    EXPECT_EQ(o->tp, 2);
    EXPECT_TRUE(o->bf16);
    EXPECT_EQ(o->input, (std::vector<std::string>{"a.txt", "b.txt", "c.txt"}));
  }
  Opts c;
  c.parse({"--config", ini, "--steps", "5"});
  EXPECT_EQ(c.steps, 5);
  EXPECT_EQ(c.global_batch, 16);
  // `= false` on a switch alias leaves the option alone.
  Opts d;
  d.parse({"--config", write_temp_file("off.ini", "use-distributed-optimizer = false\n")});
  EXPECT_EQ(d.zero, 0);
}

TEST(Options, ConfigErrorsNameFileAndLine) {
  const auto err = [](const std::string& name, const std::string& text) {
    const std::string path = write_temp_file(name, text);
    Opts o;
    return test::error_at(path, [&] { o.parse({"--config", path}); });
  };
  EXPECT_EQ(err("u.ini", "steps = 3\n\nglobal_bach = 4\n"),
            "3: unknown key 'global_bach'; did you mean 'global_batch'?");
  EXPECT_EQ(
      err("h.ini", "# sizes\nhidden-size = 4\n"),
      "2: unknown key 'hidden-size'; did you mean 'model' (a preset, or a model INI file with hidden = N)?");
  EXPECT_EQ(err("z.ini", "qqqqqqqq = 1\n"), "1: unknown key 'qqqqqqqq' (see glm3d train --help)");
  EXPECT_EQ(err("v.ini", "[train]\nsteps = abc\n"), "2: key 'steps' expects an integer, got 'abc'");
  EXPECT_EQ(err("d.ini", "weight_decay = lots\n"), "1: key 'weight_decay' expects a number, got 'lots'");
  EXPECT_EQ(err("b.ini", "\n\n\nbf16 = maybe\n"), "4: key 'bf16' expects true or false, got 'maybe'");
  EXPECT_EQ(err("s.ini", "use_distributed_optimizer = sure\n"),
            "1: key 'use_distributed_optimizer' expects true or false, got 'sure'");
  EXPECT_EQ(err("e.ini", "steps = 3\nsteps 4\n"), "2: expected 'key = value', got 'steps 4'");
  EXPECT_EQ(err("t.ini", "steps = 3\ntp = 2\ntrain-iters = 4\n"),
            "3: key 'train-iters' is given twice (first on line 1)");
  std::string commands; // the command table, so a new command does not break this test
  for (const Command& c : glm3d_commands())
    commands += (commands.empty() ? "" : ", ") + std::string(c.name);
  EXPECT_EQ(err("m.ini", "[model]\nhidden = 4\n"),
            "1: unknown section '[model]' (sections name glm3d commands: " + commands +
                "; the model is a --model preset or INI file)");
  EXPECT_NE(commands.find("train, finetune"), std::string::npos) << commands;
  EXPECT_EQ(err("c.ini", "config = other.ini\n"), "1: key 'config' cannot be set in a config file");
}
