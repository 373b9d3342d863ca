// `glm3d <command> --config FILE` (launch/config_file.h), through parse_options as every command
// calls it, with an options description that has one option of every kind the commands use (a
// stand-in: the real ones are built inside each command): integers, reals, strings, switches,
// a multi-value option (prep's --input) and options that Megatron aliases map to (--train-iters,
// --use-distributed-optimizer). The section read is [train].
#include "fuzz_support.h"
#include "launch/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const std::string path = fuzz::write_file("config.ini", fuzz::bytes_of(data, size));
  fuzz::expect_usage_error_only([&] {
    std::string model = "tiny", precision = "f32";
    int64_t steps = 100, global_batch = 8;
    int tp = 1, zero = 0;
    uint64_t seed = 1234;
    double lr = 0, beta2 = 0.95;
    bool synthetic = false, quiet = false;
    std::vector<std::string> inputs;
    po::options_description desc("fuzz stand-in of a command's options");
    desc.add_options()                                 //
        ("model", defaulted(&model), "")               //
        ("precision", defaulted(&precision), "")       //
        ("steps", defaulted(&steps), "")               //
        ("global-batch", defaulted(&global_batch), "") //
        ("tp", defaulted(&tp), "")                     //
        ("zero", defaulted(&zero), "")                 //
        ("seed", defaulted(&seed), "")                 //
        ("lr", defaulted(&lr), "")                     //
        ("beta2", defaulted(&beta2), "")               //
        ("synthetic", po::bool_switch(&synthetic), "") //
        ("quiet", po::bool_switch(&quiet), "")         //
        ("input", po::value(&inputs)->multitoken(), "");
    po::variables_map vm;
    RunContext ctx;
    ctx.command = "train";
    parse_options({"--config", path}, desc, vm, ctx);
  });
  return 0;
}
