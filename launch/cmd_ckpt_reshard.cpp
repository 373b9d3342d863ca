// glm3d ckpt reshard CKPT --out DIR --tp T --pp P [--dp D] [--zero 1] ...: under mpirun with the
// new layout's world size, loads a training checkpoint exactly as a resumed run would and saves
// it at once, written by the new layout (train/trainer.h reshard_checkpoint). Any layout can
// already resume any checkpoint; this makes the conversion explicit and checkable: the new file
// holds the same step, settings, parameters and Adam moments, bit for bit.
#include "core/check.h"
#include "launch/commands.h"
#include "launch/layout_options.h"
#include "launch/options.h"
#include "pipeline/partition.h"
#include "train/trainer.h"

#include <cstdio>

namespace glm3d {

int cmd_ckpt_reshard(const Args& args, const RunContext& ctx) {
  TrainOptions o;
  std::string pp_layers;
  po::options_description desc(
      "glm3d ckpt reshard CKPT --out DIR: the checkpoint written by this run's layout");
  desc.add_options()                                                                                   //
      ("ckpt", po::value(&o.load)->required(), "training checkpoint file or directory")                //
      ("out", po::value(&o.save_dir)->required(), "checkpoint directory to write (step_N.h5, latest)") //
      ("precision", defaulted(&o.precision), "f32 or bf16 (the master weights are f32 either way)");
  add_layout_options(desc, o, pp_layers);
  po::positional_options_description pos;
  pos.add("ckpt", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx, &pos))
    return 0;
  o.model.clear();    // the checkpoint's
  o.synthetic = true; // no data are read; the checkpoint's tokenizer hash is kept as written
  if (!pp_layers.empty())
    o.pp_layers = parse_pp_layers(pp_layers);
  const std::string path = reshard_checkpoint(o, ctx.world);
  if (ctx.rank == 0)
    std::printf("glm3d ckpt reshard: %s -> %s (tp %d, pp %d, %d ranks)\n", o.load.c_str(), path.c_str(), o.tp,
                o.pp, ctx.world_size);
  return 0;
}

} // namespace glm3d
