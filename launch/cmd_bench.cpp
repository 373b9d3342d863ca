// glm3d bench ACTION: measurements on this machine.
//   slice                 one rank's real slice of a big model (train/slice_bench.h): time,
//                         FLOP/s, memory
//   matmul [--out FILE]   oneDNN f32/bf16 matmul GFLOP/s at a few sizes, memory bandwidth and (under
//                         mpirun -n 2+) the MPI all-reduce bandwidth between local ranks; writes the
//                         `cpu` device profile glm3d plan reads (default
//                         $XDG_CACHE_HOME/glm3d/cpu_profile.json)
#include "core/check.h"
#include "launch/commands.h"
#include "launch/options.h"
#include "model/memory_model.h"
#include "plan/cpu_calibration.h"
#include "train/slice_bench.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace glm3d {

namespace {

void print_slice(const SliceOptions& o, const SliceReport& r) {
  std::printf(
      "glm3d bench slice: %s, tp rank 0 of %d, %d layers, seq %lld, micro-batch %lld, %s, recompute %s\n",
      o.model.c_str(), o.tp, o.layers, (long long)(r.seq_len), (long long)o.micro_batch, o.precision.c_str(),
      o.recompute.c_str());
  std::printf("  parameters on this rank   %.1f M (%d layers)\n", double(r.params) / 1e6, o.layers);
  std::printf("  forward per layer         %.3f s\n", r.forward_s);
  std::printf("  backward per layer        %.3f s (recomputation included)\n", r.backward_s);
  std::printf("  optimizer per step        %.3f s\n", r.optimizer_s);
  std::printf("  achieved                  %.1f GFLOP/s model (3x forward), %.1f GFLOP/s hardware\n",
              r.model_gflops(), r.hardware_gflops());
  std::printf("  activations per layer     %s held after forward (planned %s)\n",
              format_bytes(double(r.activation_bytes)).c_str(),
              format_bytes(double(r.planned_activation_bytes)).c_str());
  std::printf("  model state               %s allocated (planned %s)\n",
              format_bytes(double(r.model_state_bytes)).c_str(),
              format_bytes(double(r.planned_model_state_bytes)).c_str());
  std::printf("  tp traffic per step       %s (as if the %d peers existed)\n",
              format_bytes(double(r.tp_bytes)).c_str(), o.tp);
  std::printf("  peak RSS (VmHWM)          %s\n", format_bytes(double(r.peak_rss_bytes)).c_str());
}

int cmd_bench_slice(const Args& args, const RunContext& ctx) {
  SliceOptions o;
  std::string json_out;
  po::options_description desc("glm3d bench slice: one rank's real slice of a model (peers are stand-ins)");
  desc.add_options()                                                                        //
      ("model", defaulted(&o.model), "preset or INI file")                                  //
      ("tp", defaulted(&o.tp), "tensor-parallel degree (this is tp rank 0)")                //
      ("dp", defaulted(&o.dp), "data-parallel degree (optimizer state 1/dp with --zero 1)") //
      ("zero", po::bool_switch(&o.zero), "ZeRO-1: the optimizer holds its dp shard only")   //
      ("layers", defaulted(&o.layers), "transformer layers in the slice")                   //
      ("seq-len", defaulted(&o.seq_len), "sequence length (0: the model's)")                //
      ("micro-batch", defaulted(&o.micro_batch), "samples per micro-batch")                 //
      ("precision", defaulted(&o.precision), "f32 or bf16")                                 //
      ("recompute", defaulted(&o.recompute), "none, selective or full")                     //
      ("attention", defaulted(&o.attention), "auto, dense or flash")                        //
      ("steps", defaulted(&o.steps), "timed steps (after one warm-up step)")                //
      ("seed", defaulted(&o.seed), "seed of the weights and inputs")                        //
      ("json", po::value(&json_out), "also write the report as JSON to this file");
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0;
  GLM3D_USAGE_CHECK(ctx.world_size == 1) << "glm3d bench slice runs in one process (its peers are stand-ins)";
  const SliceReport r = run_slice(o);
  print_slice(o, r);
  if (!json_out.empty()) {
    const nlohmann::ordered_json j = {{"model", o.model},
                                      {"tp", o.tp},
                                      {"layers", o.layers},
                                      {"seq_len", r.seq_len},
                                      {"micro_batch", o.micro_batch},
                                      {"precision", o.precision},
                                      {"recompute", o.recompute},
                                      {"params", r.params},
                                      {"forward_s_per_layer", r.forward_s},
                                      {"backward_s_per_layer", r.backward_s},
                                      {"optimizer_s", r.optimizer_s},
                                      {"model_gflops", r.model_gflops()},
                                      {"hardware_gflops", r.hardware_gflops()},
                                      {"activation_bytes_per_layer", r.activation_bytes},
                                      {"planned_activation_bytes_per_layer", r.planned_activation_bytes},
                                      {"model_state_bytes", r.model_state_bytes},
                                      {"planned_model_state_bytes", r.planned_model_state_bytes},
                                      {"tp_bytes_per_step", r.tp_bytes},
                                      {"peak_rss_bytes", r.peak_rss_bytes}};
    std::FILE* f = std::fopen(json_out.c_str(), "w");
    GLM3D_USAGE_CHECK(f) << "--json " << json_out << ": cannot write the file";
    std::fputs((j.dump(2) + "\n").c_str(), f);
    std::fclose(f);
  }
  return 0;
}

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
      {"slice", "one rank's real slice of a model (e.g. GLM-130B tp 8): time, FLOP/s, memory",
       cmd_bench_slice},
      {"matmul", "[--out FILE]: oneDNN matmul, memory and MPI bandwidth -> the cpu profile of glm3d plan",
       cmd_matmul},
  };
  return run_command("glm3d bench", "action", actions, args, ctx);
}

} // namespace glm3d
