// glm3d bench ACTION: measurements of this machine.
//   matmul [--out FILE]   oneDNN f32/bf16 matmul GFLOP/s at a few sizes, memory bandwidth and (under
//                         mpirun -n 2+) the MPI all-reduce bandwidth between local ranks; writes the
//                         `cpu` device profile glm3d plan reads (default
//                         $XDG_CACHE_HOME/glm3d/cpu_profile.json)
#include "core/check.h"
#include "launch/options.h"
#include "plan/cpu_calibration.h"

#include <cstdio>

namespace glm3d {

namespace {

int cmd_matmul(const Args& args, const RunContext& ctx) {
  std::string out = default_calibration_path();
  po::options_description desc("glm3d bench matmul: measure this machine for glm3d plan --device cpu");
  desc.add_options()("out", defaulted(&out), "where to write the CPU profile (JSON)");
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0;
  const CpuCalibration c = calibrate_cpu(ctx.world);
  if (ctx.rank == 0) {
    save_calibration(c, out);
    std::printf("%swrote %s\n", describe(c).c_str(), out.c_str());
  }
  return 0;
}

} // namespace

int cmd_bench(const Args& args, const RunContext& ctx) {
  static const std::vector<Command> actions = {
      {"matmul", "[--out FILE]: oneDNN matmul, memory and MPI bandwidth -> the cpu profile of glm3d plan",
       cmd_matmul},
  };
  return run_command("glm3d bench", "action", actions, args, ctx);
}

} // namespace glm3d
