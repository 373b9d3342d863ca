// glm3d ckpt merge-lora --base CKPT --adapter (FTCKPT|PEFTDIR) --out MERGED.h5: a whole model
// with LoRA merged, W' = W + scaling B A on every adapted linear (PEFT's merge_and_unload),
// streamed tensor by tensor (train/checkpoint_stream.h): the base's tensors are read and written
// one at a time, the adapters (small) held whole. The output is a kind "weights" f32 checkpoint
// that train, finetune, eval and generate read.
#include "core/check.h"
#include "launch/commands.h"
#include "launch/options.h"
#include "train/checkpoint_dir.h"
#include "train/checkpoint_stream.h"
#include "train/peft_io.h"

#include <cstdio>

namespace glm3d {

namespace {

void merge_lora_checkpoint(const std::string& base_path, const std::string& adapter, const std::string& out) {
  CheckpointStreamReader r(base_path);
  GLM3D_USAGE_CHECK(r.meta().kind != "finetune" && r.meta().kind != k_quantized_kind)
      << "--base " << base_path << " is a " << r.meta().kind << " checkpoint; merge-lora needs a whole "
      << "float model";
  const LoraAdapter a = read_lora_adapter(adapter, r.meta().cfg);
  rewrite_weights(r, out, "f32", [&](const CkptTensor& t, float* data) {
    if (const auto it = a.pairs.find(t.name); it != a.pairs.end())
      merge_lora_rects(data, {Rect{0, 0, t.rows, t.cols}}, it->second, a.scaling);
  });
  std::printf("merged %zu LoRA linears of %s (r %lld, scaling %g) into %s: %s\n", a.pairs.size(),
              a.source.c_str(), (long long)a.settings.r, a.scaling, base_path.c_str(), out.c_str());
}

} // namespace

int cmd_ckpt_merge_lora(const Args& args, const RunContext& ctx) {
  std::string base, adapter, out;
  po::options_description desc("glm3d ckpt merge-lora --base CKPT --adapter FTCKPT|PEFTDIR --out MERGED.h5: "
                               "W + (alpha/r) B A on every adapted linear");
  desc.add_options()                                                                                    //
      ("base", po::value(&base), "the base model (default: the one the fine-tuning checkpoint names)")  //
      ("adapter", po::value(&adapter), "PEFT adapter directory or glm3d fine-tuning checkpoint (LoRA)") //
      ("out", po::value(&out), "merged checkpoint file (.h5)");
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0;
  GLM3D_USAGE_CHECK(ctx.world_size == 1) << "glm3d ckpt runs on one rank (got " << ctx.world_size << ")";
  GLM3D_USAGE_CHECK(!adapter.empty() && !out.empty()) << "glm3d ckpt merge-lora needs --adapter and --out";
  if (base.empty()) {
    GLM3D_USAGE_CHECK(!is_peft_dir(adapter)) << "glm3d ckpt merge-lora needs --base CKPT for a PEFT adapter";
    base = read_checkpoint_meta(resolve_checkpoint(adapter)).base_checkpoint;
  }
  merge_lora_checkpoint(resolve_checkpoint(base), adapter, out);
  return 0;
}

} // namespace glm3d
