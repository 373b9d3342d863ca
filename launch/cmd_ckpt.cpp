// glm3d ckpt inspect|verify|export|import: checkpoint tools (one rank).
//   inspect CKPT                      metadata, config, layout, every tensor's shape, dtype, checksum
//   verify CKPT                       reads everything: checksums, shapes against the config, NaN/Inf
//   export CKPT --out FILE.h5         bf16 weights only (glm3d format, kind "weights")
//   export CKPT --to chatglm-6b|chatglm2-6b|chatglm3-6b --out DIR [--dtype f16|bf16|f32] [--max-shard-mb N]
//   export FTCKPT --to peft --out DIR       LoRA adapters as PEFT's adapter_config.json + safetensors
//   import --from chatglm-6b|chatglm2-6b|chatglm3-6b --out FILE.h5 DIR
//                                     DIR: config.json + *.safetensors (F16/BF16/F32) [+ index]
// Every action holds one tensor at a time (train/checkpoint_stream.h, launch/ckpt_hf.h).
#include "core/check.h"
#include "data/h5_attr.h"
#include "data/h5_check.h"
#include "launch/ckpt_hf.h"
#include "launch/options.h"
#include "train/checkpoint.h"
#include "train/checkpoint_dir.h"
#include "train/checkpoint_stream.h"
#include "train/peft_io.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace glm3d {

namespace {

std::string layout_str(const CheckpointMeta& m) {
  std::ostringstream os;
  os << "tp=" << m.tp << " pp=" << m.pp << " dp=" << m.dp << " virtual_stages=" << m.virtual_stages
     << " zero=" << m.zero;
  return os.str();
}

int inspect(const std::string& path) {
  const CheckpointMeta m = read_checkpoint_meta(path);
  std::printf("checkpoint %s\n  format %s v%lld, written by glm3d %s, kind %s\n", path.c_str(),
              k_checkpoint_format, (long long)k_checkpoint_format_version, m.glm3d_version.c_str(),
              m.kind.c_str());
  std::printf("  step %lld (skipped %lld), next sample %lld, global batch %lld, seed %llu\n",
              (long long)m.step, (long long)m.skipped_steps, (long long)m.next_sample,
              (long long)m.global_batch, (unsigned long long)m.seed);
  std::printf("  lr max %g min %g, warmup %lld, decay %lld; adam beta1 %g beta2 %g eps %g, weight decay %g\n",
              m.lr_max, m.lr_min, (long long)m.warmup_steps, (long long)m.decay_steps, m.beta1, m.beta2,
              m.eps, m.weight_decay);
  std::printf("  layout %s\n  tokenizer sha256 %s\n  config %s\n  optimizer state: %s, params %s\n",
              layout_str(m).c_str(), m.tokenizer_sha256.empty() ? "(none)" : m.tokenizer_sha256.c_str(),
              to_string(m.cfg).c_str(), m.has_optimizer_state ? "yes" : "no", m.param_dtype.c_str());
  for (const auto& [k, v] : m.special_tokens)
    std::printf("  special token %s = %lld\n", k.c_str(), (long long)v);
  auto lock = h5::library_lock();
  int64_t params = 0;
  try { // a damaged file fails here as in read_checkpoint_meta: a UsageError naming it
    h5::Handle f(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
    for (const char* g : {"params", "adam_m", "adam_v"}) {
      if (std::string(g) != "params" && !m.has_optimizer_state)
        continue;
      for (const CkptTensor& t : checkpoint_tensors(m)) {
        const std::string name = std::string(g) + "/" + t.name;
        if (H5_CHECK(H5Lexists(f.get(), name.c_str(), H5P_DEFAULT)) <= 0) {
          std::printf("  %-52s MISSING\n", name.c_str());
          continue;
        }
        h5::Handle d(H5_CHECK(H5Dopen2(f.get(), name.c_str(), H5P_DEFAULT)), H5Dclose);
        h5::Handle s(H5_CHECK(H5Dget_space(d.get())), H5Sclose);
        h5::Handle type(H5_CHECK(H5Dget_type(d.get())), H5Tclose);
        hsize_t dims[H5S_MAX_RANK] = {}; // a damaged file may hold any rank, not the expected 1 or 2
        const int nd = H5_CHECK(H5Sget_simple_extent_dims(s.get(), dims, nullptr));
        std::string shape = "[";
        for (int k = 0; k < nd; ++k)
          shape += (k ? ", " : "") + std::to_string(dims[k]);
        shape += "]";
        const char* dt = H5Tget_size(type.get()) == 2 ? "bf16" : "f32";
        const uint64_t sum = h5::has_attr(d.get(), "checksum") ? h5::read_attr_u64(d.get(), "checksum") : 0;
        std::printf("  %-52s %-14s %s  checksum %016llx\n", name.c_str(), shape.c_str(), dt,
                    (unsigned long long)sum);
        if (std::string(g) == "params")
          params += t.numel();
      }
    }
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "checkpoint " << path << " is unreadable: " << e.what();
  }
  std::printf("  %lld parameters\n", (long long)params);
  return 0;
}

int verify(const std::string& path) {
  CheckpointStreamReader r(path); // shapes checked here, each checksum as its tensor is read
  validate(r.meta().cfg);
  std::vector<float> buf; // one tensor at a time
  int64_t n = 0, count = 0;
  for (const char* g : {"params", "adam_m", "adam_v"}) {
    if (std::string(g) != "params" && !r.meta().has_optimizer_state)
      continue;
    for (const CkptTensor& t : r.tensors()) {
      buf.resize(size_t(t.numel()));
      r.read(t, buf.data(), g);
      const int64_t bad = std::count_if(buf.begin(), buf.end(), [](float x) { return !std::isfinite(x); });
      GLM3D_USAGE_CHECK(bad == 0) << "checkpoint " << path << ": tensor '" << tensor_path(g, t.name)
                                  << "' holds " << bad << " NaN/Inf values";
      n += t.numel();
      ++count;
    }
  }
  std::printf("ok: %s: %lld tensors, %lld values, checksums and shapes match the config, no NaN/Inf\n",
              path.c_str(), (long long)count, (long long)n);
  return 0;
}

int export_glm3d(const std::string& path, const std::string& out) {
  CheckpointStreamReader r(path);
  const CheckpointMeta m = rewrite_weights(r, out, "bf16");
  std::printf("exported bf16 weights of %s (step %lld) to %s\n", path.c_str(), (long long)m.step,
              out.c_str());
  return 0;
}

// Parses an action's options (the checkpoint PATH is its first positional) on one rank.
bool parse_action(const Args& args, po::options_description& desc, std::string& path, const RunContext& ctx,
                  const char* path_help = "checkpoint file, or a directory (its latest)") {
  desc.add_options()("path", po::value(&path), path_help);
  po::positional_options_description pos;
  pos.add("path", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx, &pos))
    return false; // --help was printed
  GLM3D_USAGE_CHECK(ctx.world_size == 1) << "glm3d ckpt runs on one rank (got " << ctx.world_size << ")";
  GLM3D_USAGE_CHECK(!path.empty()) << "glm3d " << ctx.command << " needs a PATH";
  return true;
}

int cmd_inspect(const Args& args, const RunContext& ctx) {
  std::string path;
  po::options_description desc("glm3d ckpt inspect CKPT: metadata, config, layout, every tensor's shape, "
                               "dtype and checksum");
  return parse_action(args, desc, path, ctx) ? inspect(resolve_checkpoint(path)) : 0;
}

int cmd_verify(const Args& args, const RunContext& ctx) {
  std::string path;
  po::options_description desc("glm3d ckpt verify CKPT: reads everything: checksums, shapes against the "
                               "config, NaN/Inf");
  return parse_action(args, desc, path, ctx) ? verify(resolve_checkpoint(path)) : 0;
}

int cmd_export(const Args& args, const RunContext& ctx) {
  std::string path, out, to, dtype = "f16";
  double max_shard_mb = 4096;
  po::options_description desc("glm3d ckpt export CKPT --out FILE.h5: bf16 weights only (glm3d format)\n"
                               "glm3d ckpt export CKPT --to chatglm2-6b --out DIR: Hugging Face safetensors");
  desc.add_options()                                                      //
      ("out", po::value(&out), "output file (glm3d) or directory (--to)") //
      ("to", po::value(&to),
       "export format: chatglm-6b, chatglm2-6b, chatglm3-6b, or peft (a LoRA fine-tuning checkpoint's "
       "adapters; default: glm3d bf16)")                                               //
      ("dtype", defaulted(&dtype), "--to: f16, bf16 or f32")                           //
      ("max-shard-mb", defaulted(&max_shard_mb), "--to: safetensors shard size (MB)"); //
  if (!parse_action(args, desc, path, ctx))
    return 0;
  GLM3D_USAGE_CHECK(!out.empty()) << "glm3d ckpt export needs --out";
  GLM3D_USAGE_CHECK(max_shard_mb > 0) << "--max-shard-mb must be positive";
  if (to.empty())
    return export_glm3d(resolve_checkpoint(path), out);
  if (to == "peft") { // a LoRA fine-tuning checkpoint's adapters (train/peft_io.h)
    export_peft(path, out);
    std::printf("exported the LoRA adapters of %s to %s (PEFT)\n", path.c_str(), out.c_str());
    return 0;
  }
  const HfFamily family = parse_hf_family(to, "--to");
  export_hf(family, resolve_checkpoint(path), out, dtype, max_shard_mb);
  return 0;
}

int cmd_import(const Args& args, const RunContext& ctx) {
  std::string dir, out, from;
  po::options_description desc(
      "glm3d ckpt import --from chatglm2-6b --out FILE.h5 DIR: Hugging Face ChatGLM "
      "weights (DIR: config.json + *.safetensors, F16/BF16/F32) as a glm3d checkpoint");
  desc.add_options()                                                                      //
      ("from", po::value(&from), "import format: chatglm-6b, chatglm2-6b or chatglm3-6b") //
      ("out", po::value(&out), "output checkpoint file (.h5)");
  if (!parse_action(args, desc, dir, ctx, "directory: config.json + *.safetensors (+ index)"))
    return 0;
  GLM3D_USAGE_CHECK(!from.empty()) << "glm3d ckpt import needs --from " << k_hf_family_choices;
  const HfFamily family = parse_hf_family(from, "--from");
  GLM3D_USAGE_CHECK(!out.empty()) << "glm3d ckpt import needs --out FILE.h5";
  import_hf(family, dir, out);
  return 0;
}

} // namespace

int cmd_ckpt(const Args& args, const RunContext& ctx) {
  static const std::vector<Command> actions = {
      {"inspect", "CKPT: metadata, config, layout, every tensor's shape, dtype and checksum", cmd_inspect},
      {"verify", "CKPT: reads everything: checksums, shapes against the config, NaN/Inf", cmd_verify},
      {"export", "CKPT --out FILE.h5 (bf16 weights) | --to chatglm2-6b --out DIR (safetensors)", cmd_export},
      {"import",
       "--from chatglm2-6b --out FILE.h5 DIR: Hugging Face ChatGLM safetensors as a glm3d checkpoint",
       cmd_import},
      {"reshard", "CKPT --out DIR (under mpirun, with --tp/--pp/--dp/--zero): rewritten by another layout",
       cmd_ckpt_reshard},
      {"merge-lora", "--base CKPT --adapter FTCKPT|PEFTDIR --out MERGED.h5: LoRA merged into the weights",
       cmd_ckpt_merge_lora},
      {"quantize", "--bits 8|4|nf4 --load CKPT --out QCKPT: layer matrices quantized for generate",
       cmd_ckpt_quantize},
  };
  return run_command("glm3d ckpt", "action", actions, args, ctx);
}

} // namespace glm3d
