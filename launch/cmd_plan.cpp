// glm3d plan: memory and step time of a layout (every dimension pinned) or the best layouts of
// a job (plan/: the trainer's own memory accounting and schedules, priced on a device profile).
#include "core/check.h"
#include "launch/options.h"
#include "pipeline/partition.h"
#include "plan/cpu_calibration.h"
#include "plan/report.h"

#include <cstdio>
#include <iostream>

namespace glm3d {

namespace {

struct PlanOptions {
  std::string model = "tiny", device, png, cpu_profile = default_calibration_path();
  int gpus = 0, gpus_per_node = 8, top = 10;
  int64_t global_batch = 0, seq_len = 0;
  bool json = false, explain = false;
  double peak_tflops = 0, memory_gb = 0, hbm_gbps = 0, intra_gbps = 0, inter_gbps = 0, gemm_efficiency = 0;
};

void add_pinned(po::options_description& d, SearchSpace& s, std::string& rc, std::string& prec,
                std::string& sched, std::string& layers) {
  d.add_options()                                                                              //
      ("tp", po::value<int>()->notifier([&](int v) { s.tp = v; }), "tensor-parallel degree")   //
      ("pp", po::value<int>()->notifier([&](int v) { s.pp = v; }), "pipeline-parallel degree") //
      ("dp", po::value<int>()->notifier([&](int v) { s.dp = v; }), "data-parallel degree")     //
      ("virtual-stages", po::value<int>()->notifier([&](int v) { s.virtual_stages = v; }),
       "model chunks per rank") //
      ("micro-batch", po::value<int64_t>()->notifier([&](int64_t v) { s.micro_batch = v; }),
       "samples per micro-batch")                                                             //
      ("zero", po::value<int>()->notifier([&](int v) { s.zero = v; }), "ZeRO stage (0 or 1)") //
      ("recompute", po::value(&rc), "none, selective or full")                                //
      ("precision", po::value(&prec), "f32 or bf16")                                          //
      ("schedule", po::value(&sched), "gpipe or 1f1b (virtual stages > 1: interleaved)")      //
      ("pp-layers", po::value(&layers), "layers per stage, e.g. 8,9,9,9,9,9,9,8")             //
      ("attention", po::value(&s.attention)->default_value("auto"), "auto, dense or flash");
}

DeviceProfile device_of(const PlanOptions& o) {
  GLM3D_USAGE_CHECK(!o.device.empty())
      << "glm3d plan needs --device (a100-40g, a100-80g, h100-80g, h200, cpu)";
  DeviceProfile d;
  if (o.device == "cpu") {
    std::optional<CpuCalibration> c = load_calibration(o.cpu_profile);
    if (!c) {
      std::fprintf(stderr, "no CPU profile at %s: measuring this machine (glm3d bench matmul)...\n",
                   o.cpu_profile.c_str());
      c = calibrate_cpu(MPI_COMM_SELF);
      save_calibration(*c, o.cpu_profile);
    }
    d = cpu_device(*c, o.gpus_per_node);
  } else {
    d = gpu_profile(o.device);
  }
  const auto over = [](double v, double scale, double& field) {
    if (v > 0)
      field = v * scale;
  };
  over(o.peak_tflops, 1e12, d.peak_bf16);
  over(o.memory_gb, 1e9, d.memory_bytes);
  over(o.hbm_gbps, 1e9, d.hbm_bw);
  over(o.intra_gbps, 1e9, d.intra_bw);
  over(o.inter_gbps, 1e9, d.inter_bw);
  over(o.gemm_efficiency, 1, d.gemm_e_max);
  return d;
}

void check_sizes(const PlanOptions& o) {
  GLM3D_USAGE_CHECK(o.gpus > 0) << "--gpus must be positive, got " << o.gpus;
  GLM3D_USAGE_CHECK(o.gpus_per_node > 0) << "--gpus-per-node must be positive, got " << o.gpus_per_node;
  GLM3D_USAGE_CHECK(o.global_batch > 0) << "--global-batch must be positive, got " << o.global_batch;
  GLM3D_USAGE_CHECK(o.seq_len >= 0) << "--seq-len must be positive (0: the model's), got " << o.seq_len;
  GLM3D_USAGE_CHECK(o.top > 0) << "--top must be positive, got " << o.top;
  for (const auto& [name, v] :
       {std::pair{"--peak-tflops", o.peak_tflops}, std::pair{"--memory-gb", o.memory_gb},
        std::pair{"--hbm-gbps", o.hbm_gbps}, std::pair{"--intra-gbps", o.intra_gbps},
        std::pair{"--inter-gbps", o.inter_gbps}, std::pair{"--gemm-efficiency", o.gemm_efficiency}})
    GLM3D_USAGE_CHECK(v >= 0) << name << " must be positive, got " << v;
  GLM3D_USAGE_CHECK(o.gemm_efficiency <= 1)
      << "--gemm-efficiency is a fraction of peak, got " << o.gemm_efficiency;
}

} // namespace

int cmd_plan(const Args& args, const RunContext& ctx) {
  PlanOptions o;
  SearchSpace space;
  std::string rc, prec, sched, layers;
  po::options_description desc(
      "glm3d plan: memory and step time of a layout, or the best layouts of a job.\n"
      "Each of --tp --pp --dp --virtual-stages --micro-batch --zero --recompute --precision "
      "pins that dimension; the others are searched");
  desc.add_options()                                                                                        //
      ("model", defaulted(&o.model), "preset (tiny .. glm-130b) or model INI file")                         //
      ("gpus", defaulted(&o.gpus), "devices (ranks) of the job")                                            //
      ("device", po::value(&o.device), "a100-40g, a100-80g, h100-80g, h200 or cpu")                         //
      ("gpus-per-node", defaulted(&o.gpus_per_node), "devices per node (cpu: ranks on this machine)")       //
      ("global-batch", defaulted(&o.global_batch), "samples per optimizer step")                            //
      ("seq-len", defaulted(&o.seq_len), "sequence length (0: the model's)")                                //
      ("json", po::bool_switch(&o.json), "JSON output")                                                     //
      ("explain", po::bool_switch(&o.explain), "per-stage memory table and the simulated schedule")         //
      ("png", po::value(&o.png), "write a PNG of memory per stage (gnuplot)")                               //
      ("top", defaulted(&o.top), "layouts listed by a search")                                              //
      ("cpu-profile", defaulted(&o.cpu_profile), "--device cpu: profile written by glm3d bench matmul")     //
      ("peak-tflops", defaulted(&o.peak_tflops), "override: dense bf16 peak per device (TFLOP/s)")          //
      ("memory-gb", defaulted(&o.memory_gb), "override: memory per device (GB)")                            //
      ("hbm-gbps", defaulted(&o.hbm_gbps), "override: memory bandwidth (GB/s)")                             //
      ("intra-gbps", defaulted(&o.intra_gbps), "override: intra-node bandwidth per device, one way (GB/s)") //
      ("inter-gbps", defaulted(&o.inter_gbps), "override: inter-node bandwidth per device, one way (GB/s)") //
      ("gemm-efficiency", defaulted(&o.gemm_efficiency),
       "override: sustained fraction of peak of large GEMMs");
  add_pinned(desc, space, rc, prec, sched, layers);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0;
  if (ctx.rank != 0)
    return 0;
  check_sizes(o);
  if (!rc.empty())
    space.recompute = parse_recompute(rc);
  if (!prec.empty())
    space.precision = parse_precision(prec);
  if (!sched.empty())
    space.schedule = parse_schedule(sched);
  space.pp_layers = parse_pp_layers(layers);
  parse_attention(space.attention, cpu::Precision::f32); // rejects unknown words now
  PlanInput in;
  in.cfg = load_model_config(o.model);
  if (o.seq_len > 0)
    in.cfg.seq_len = o.seq_len;
  in.global_batch = o.global_batch;
  in.gpus_per_node = o.gpus_per_node;
  in.dev = device_of(o);
  Prediction one;
  if (space.fully_pinned()) {
    one = predict(in, pinned_layout(in, o.gpus, space));
    std::cout << (o.json ? prediction_json(in, one).dump(2) + "\n" : format_prediction(in, one));
  } else {
    const SearchResult r = search_layouts(in, o.gpus, space, o.top);
    std::cout << (o.json ? search_json(in, r).dump(2) + "\n" : format_search(in, r));
    if (!r.best.empty() && (o.explain || !o.png.empty()))
      one = predict(in, r.best.front().layout);
  }
  if (o.explain && !one.stages.empty() && !o.json)
    std::cout << "\n" << explain(in, one);
  if (!o.png.empty() && !one.stages.empty()) {
    write_memory_png(in, one, o.png);
    std::fprintf(stderr, "wrote %s\n", o.png.c_str());
  }
  return 0;
}

} // namespace glm3d
