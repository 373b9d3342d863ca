// glm3d ckpt quantize --bits 8|4|nf4 --load CKPT --out QCKPT: the four matrices of every layer
// quantized (ChatGLM-6B's int8 / int4, or bitsandbytes' NF4 with double quantization), the rest
// kept as float32: a `quantized` checkpoint (docs/checkpoint.md "Quantized weights") that
// glm3d generate and chat load on any layout. One rank, one matrix in memory at a time.
// ChatGLM-6B's own quantized checkpoints (infer/chatglm_quantized.h):
//   glm3d ckpt quantize --import CHATGLM_DIR --out QCKPT     (weight I8 + weight_scale F16 in)
//   glm3d ckpt quantize --load QCKPT --export DIR [--dtype f16|bf16|f32]   (and out)
#include "core/check.h"
#include "infer/chatglm_quantized.h"
#include "infer/quantized_checkpoint.h"
#include "launch/commands.h"
#include "launch/options.h"
#include "train/checkpoint_dir.h"
#include "train/checkpoint_io.h"

#include <cstdio>
#include <filesystem>

namespace glm3d {

int cmd_ckpt_quantize(const Args& args, const RunContext& ctx) {
  std::string bits, load, out, import_dir, export_dir, dtype = "f16";
  po::options_description desc("glm3d ckpt quantize --bits 8|4|nf4 --load CKPT --out QCKPT: weight-only "
                               "quantization of the layer matrices");
  desc.add_options() //
      ("bits", po::value(&bits),
       "8 or 4 (ChatGLM-6B row-wise int8 / int4), nf4 (NF4, double quantization)")  //
      ("load", po::value(&load), "float checkpoint file or directory (its latest)") //
      ("out", po::value(&out), "quantized checkpoint file to write (.h5)")          //
      ("import", po::value(&import_dir),
       "ChatGLM-6B int8/int4 directory (config.json + safetensors) to read") //
      ("export", po::value(&export_dir),
       "write --load's int8/int4 checkpoint as ChatGLM-6B's to this directory") //
      ("dtype", po::value(&dtype)->default_value(dtype),
       "--export: the float tensors' dtype, f16, bf16 or f32");
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0;
  GLM3D_USAGE_CHECK(ctx.world_size == 1)
      << "glm3d ckpt quantize runs on one rank (got " << ctx.world_size << ")";
  if (!import_dir.empty()) {
    GLM3D_USAGE_CHECK(!out.empty() && bits.empty() && load.empty()) << "--import DIR takes --out QCKPT only";
    import_chatglm_quantized(import_dir, out);
    std::printf("imported ChatGLM quantized %s into %s\n", import_dir.c_str(), out.c_str());
    return 0;
  }
  if (!export_dir.empty()) {
    GLM3D_USAGE_CHECK(!load.empty() && bits.empty() && out.empty()) << "--export DIR takes --load QCKPT only";
    export_chatglm_quantized(resolve_checkpoint(load), export_dir, dtype);
    std::printf("exported %s as ChatGLM quantized safetensors to %s\n", load.c_str(), export_dir.c_str());
    return 0;
  }
  GLM3D_USAGE_CHECK(!bits.empty() && !load.empty() && !out.empty())
      << "glm3d ckpt quantize needs --bits 8|4|nf4, --load CKPT and --out QCKPT";
  GLM3D_USAGE_CHECK(bits == "8" || bits == "4" || bits == "nf4")
      << "--bits must be 8, 4 or nf4, got '" << bits << "'";
  const WeightFormat format = bits == "8"   ? WeightFormat::int8
                              : bits == "4" ? WeightFormat::int4
                                            : WeightFormat::nf4;
  const std::string in = resolve_checkpoint(load);
  quantize_checkpoint(in, out, format);
  const auto size = [](const std::string& p) { return double(std::filesystem::file_size(p)) / 1048576.0; };
  std::printf("quantized %s (%.1f MiB) to %s: layer matrices %s (%.1f MiB)\n", in.c_str(), size(in),
              out.c_str(), format_name(format).c_str(), size(out));
  return 0;
}

} // namespace glm3d
