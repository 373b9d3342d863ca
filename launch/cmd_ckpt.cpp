// glm3d ckpt inspect|verify|export|import: checkpoint tools (one rank).
//   inspect CKPT                      metadata, config, layout, every tensor's shape, dtype, checksum
//   verify CKPT                       reads everything: checksums, shapes against the config, NaN/Inf
//   export CKPT --out FILE.h5         bf16 weights only (glm3d format, kind "weights")
//   export CKPT --to chatglm-6b --out DIR [--dtype f16|bf16|f32] [--max-shard-mb N]
//   import --from chatglm-6b --out FILE.h5 DIR    DIR: config.json + *.safetensors (F16/BF16/F32)
#include "core/check.h"
#include "data/h5_attr.h"
#include "data/h5_check.h"
#include "launch/options.h"
#include "model/chatglm_convert.h"
#include "model/safetensors.h"
#include "train/checkpoint.h"
#include "train/checkpoint_dir.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

namespace glm3d {

namespace {

namespace fs = std::filesystem;

using TensorMap = std::map<std::string, std::vector<float>>; // "group/name" -> full stored tensor

// Every tensor of one or more groups, whole, read (and checksum-verified) on this rank alone.
TensorMap read_all(const std::string& path, const CheckpointMeta& meta, bool with_adam) {
  TensorMap out;
  std::vector<TensorPiece> pieces;
  for (const char* g : {"params", "adam_m", "adam_v"}) {
    if (std::string(g) != "params" && !with_adam)
      continue;
    for (const CkptTensor& t : checkpoint_tensors(meta.cfg)) {
      std::vector<float>& buf = out[std::string(g) + "/" + t.name];
      buf.resize(size_t(t.numel()));
      pieces.push_back({g, t.name, buf.data(), {Rect{0, 0, t.rows, t.cols}}, true});
    }
  }
  read_checkpoint_file(path, MPI_COMM_SELF, meta, pieces);
  return out;
}

void write_weights(const std::string& path, const CheckpointMeta& meta, TensorMap& params) {
  std::vector<TensorPiece> pieces;
  for (const CkptTensor& t : checkpoint_tensors(meta.cfg))
    pieces.push_back(
        {"params", t.name, params.at("params/" + t.name).data(), {Rect{0, 0, t.rows, t.cols}}, true});
  const std::string tmp = path + ".tmp";
  write_checkpoint_file(tmp, MPI_COMM_SELF, meta, pieces);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  GLM3D_USAGE_CHECK(!ec) << "cannot rename " << tmp << " to " << path << ": " << ec.message();
}

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
      for (const CkptTensor& t : checkpoint_tensors(m.cfg)) {
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
  const CheckpointMeta m = read_checkpoint_meta(path);
  validate(m.cfg);
  const TensorMap all = read_all(path, m, m.has_optimizer_state); // checksums and shapes checked here
  int64_t n = 0;
  for (const auto& [name, v] : all) {
    int64_t bad = 0;
    for (float x : v)
      bad += !std::isfinite(x);
    GLM3D_USAGE_CHECK(bad == 0) << "checkpoint " << path << ": tensor '" << name << "' holds " << bad
                                << " NaN/Inf values";
    n += int64_t(v.size());
  }
  std::printf("ok: %s: %zu tensors, %lld values, checksums and shapes match the config, no NaN/Inf\n",
              path.c_str(), all.size(), (long long)n);
  return 0;
}

int export_glm3d(const std::string& path, const std::string& out) {
  CheckpointMeta m = read_checkpoint_meta(path);
  TensorMap params = read_all(path, m, false);
  m.kind = "weights";
  m.has_optimizer_state = false;
  m.param_dtype = "bf16";
  write_weights(out, m, params);
  std::printf("exported bf16 weights of %s (step %lld) to %s\n", path.c_str(), (long long)m.step,
              out.c_str());
  return 0;
}

int export_chatglm(const std::string& path, const std::string& dir, const std::string& dtype_name,
                   double max_shard_mb) {
  const CheckpointMeta m = read_checkpoint_meta(path);
  const TensorMap params = read_all(path, m, false);
  GLM3D_USAGE_CHECK(dtype_name == "f16" || dtype_name == "bf16" || dtype_name == "f32")
      << "--dtype must be f16, bf16 or f32, got '" << dtype_name << "'";
  const StDtype dt = dtype_name == "f16" ? StDtype::f16 : dtype_name == "bf16" ? StDtype::bf16 : StDtype::f32;
  const size_t esize = dt == StDtype::f32 ? 4 : 2;
  std::vector<StTensorOut> all;
  for (const CkptTensor& t : checkpoint_tensors(m.cfg)) {
    std::vector<int64_t> shape =
        t.is_vector() ? std::vector<int64_t>{t.rows} : std::vector<int64_t>{t.rows, t.cols};
    all.push_back({chatglm_name(t.name), shape, params.at("params/" + t.name).data()});
    if (t.name == "word_embeddings.weight")
      all.push_back({k_chatglm_lm_head, shape, all.back().data});
  }
  // Greedy shards of at most max_shard_mb (a tensor larger than that gets a shard of its own).
  std::vector<std::vector<StTensorOut>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (const StTensorOut& t : all) {
    int64_t n = 1;
    for (int64_t d : t.shape)
      n *= d;
    const uint64_t bytes = uint64_t(n) * esize;
    if (!shards.back().empty() && double(in_shard + bytes) > max_shard_mb * 1048576.0)
      shards.emplace_back(), in_shard = 0;
    shards.back().push_back(t);
    in_shard += bytes;
    total += bytes;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  GLM3D_USAGE_CHECK(!ec && fs::is_directory(dir)) << "cannot create " << dir;
  const std::string torch_dtype = dt == StDtype::f16    ? "float16"
                                  : dt == StDtype::bf16 ? "bfloat16"
                                                        : "float32";
  nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}},
                                  {"weight_map", nlohmann::ordered_json::object()}};
  for (size_t s = 0; s < shards.size(); ++s) {
    char name[64];
    if (shards.size() == 1)
      std::snprintf(name, sizeof name, "model.safetensors");
    else
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    write_safetensors((fs::path(dir) / name).string(), shards[s], dt, {{"format", "pt"}});
    for (const StTensorOut& t : shards[s])
      index["weight_map"][t.name] = name;
  }
  if (shards.size() > 1)
    std::ofstream(fs::path(dir) / "model.safetensors.index.json") << index.dump(2) << "\n";
  std::ofstream(fs::path(dir) / "config.json") << chatglm_config_json(m.cfg, m.special_tokens, torch_dtype);
  std::printf("exported %s (step %lld) as ChatGLM %s safetensors to %s (%zu shard%s)\n", path.c_str(),
              (long long)m.step, st_dtype_name(dt).c_str(), dir.c_str(), shards.size(),
              shards.size() > 1 ? "s" : "");
  return 0;
}

int import_chatglm(const std::string& dir, const std::string& out) {
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  std::ifstream in(cfg_path);
  GLM3D_USAGE_CHECK(in) << "cannot read " << cfg_path;
  std::stringstream text;
  text << in.rdbuf();
  CheckpointMeta m;
  m.kind = "import";
  m.cfg = chatglm_config(text.str(), cfg_path, m.special_tokens);
  std::vector<std::unique_ptr<SafetensorsReader>> readers;
  std::map<std::string, SafetensorsReader*> where;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors")
      files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  GLM3D_USAGE_CHECK(!files.empty()) << dir << " holds no *.safetensors files";
  for (const std::string& f : files) {
    readers.push_back(std::make_unique<SafetensorsReader>(f));
    for (const auto& [name, info] : readers.back()->tensors()) {
      GLM3D_USAGE_CHECK(!where.count(name)) << "tensor '" << name << "' appears in two files of " << dir;
      where[name] = readers.back().get();
    }
  }
  // GeGLU (GLM-130B style) has an up-projection twice the activation width.
  const std::string up = chatglm_name(layer_param_name(0, "mlp.dense_h_to_4h.weight"));
  if (where.count(up) && !where[up]->tensors().at(up).shape.empty() &&
      where[up]->tensors().at(up).shape[0] / 2 == m.cfg.ffn_hidden &&
      where[up]->tensors().at(up).shape[0] % 2 == 0)
    m.cfg.ffn = FfnKind::geglu;
  validate(m.cfg);
  // The files must hold the model config.json describes, at 2 bytes a parameter at least (F16,
  // BF16), before the tensor list of that config is built and walked.
  uint64_t data_bytes = 0;
  for (const auto& [name, r] : where)
    data_bytes += r->tensors().at(name).end - r->tensors().at(name).begin;
  GLM3D_USAGE_CHECK(2.0 * double(parameter_count(m.cfg)) <= double(data_bytes))
      << cfg_path << " describes " << parameter_count(m.cfg) << " parameters, more than the " << data_bytes
      << " bytes of tensors in " << dir << "/*.safetensors hold";
  TensorMap params;
  std::vector<TensorPiece> pieces;
  std::set<std::string> used;
  for (const CkptTensor& t : checkpoint_tensors(m.cfg)) {
    const std::string name = chatglm_name(t.name);
    GLM3D_USAGE_CHECK(where.count(name))
        << dir << ": missing tensor '" << name << "' (config.json: " << m.cfg.num_layers << " layers)";
    const StTensorInfo& info = where[name]->tensors().at(name);
    const std::vector<int64_t> want =
        t.is_vector() ? std::vector<int64_t>{t.rows} : std::vector<int64_t>{t.rows, t.cols};
    GLM3D_USAGE_CHECK(info.shape == want)
        << where[name]->path() << ": tensor '" << name << "' has shape " << info.shape.size() << "-d ["
        << (info.shape.empty() ? 0 : info.shape[0]) << ", ...], config.json needs [" << t.rows
        << (t.is_vector() ? "" : ", " + std::to_string(t.cols)) << "]";
    std::vector<float>& buf = params["params/" + t.name] = where[name]->read_f32(name);
    pieces.push_back({"params", t.name, buf.data(), {Rect{0, 0, t.rows, t.cols}}, true});
    used.insert(name);
  }
  if (where.count(k_chatglm_lm_head)) {
    GLM3D_USAGE_CHECK(where[k_chatglm_lm_head]->read_f32(k_chatglm_lm_head) ==
                      params["params/word_embeddings.weight"])
        << dir << ": lm_head.weight differs from the word embedding (glm3d ties them)";
    used.insert(k_chatglm_lm_head);
  }
  for (const auto& [name, r] : where) {
    const bool rotary = name.size() > 9 && name.substr(name.size() - 9) == ".inv_freq"; // recomputed by glm3d
    GLM3D_USAGE_CHECK(used.count(name) || rotary)
        << r->path() << ": unexpected tensor '" << name << "' (not part of a ChatGLM-6B-family model)";
  }
  write_weights(out, m, params);
  std::printf("imported %s (%s) into %s\n", dir.c_str(), to_string(m.cfg).c_str(), out.c_str());
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
                               "glm3d ckpt export CKPT --to chatglm-6b --out DIR: ChatGLM safetensors");
  desc.add_options()                                                                              //
      ("out", po::value(&out), "output file (glm3d) or directory (--to chatglm-6b)")              //
      ("to", po::value(&to), "export format: chatglm-6b (default: glm3d bf16 weights)")           //
      ("dtype", defaulted(&dtype), "--to chatglm-6b: f16, bf16 or f32")                           //
      ("max-shard-mb", defaulted(&max_shard_mb), "--to chatglm-6b: safetensors shard size (MB)"); //
  if (!parse_action(args, desc, path, ctx))
    return 0;
  GLM3D_USAGE_CHECK(!out.empty()) << "glm3d ckpt export needs --out";
  GLM3D_USAGE_CHECK(to.empty() || to == "chatglm-6b") << "--to supports chatglm-6b, got '" << to << "'";
  GLM3D_USAGE_CHECK(max_shard_mb > 0) << "--max-shard-mb must be positive";
  return to.empty() ? export_glm3d(resolve_checkpoint(path), out)
                    : export_chatglm(resolve_checkpoint(path), out, dtype, max_shard_mb);
}

int cmd_import(const Args& args, const RunContext& ctx) {
  std::string dir, out, from;
  po::options_description desc("glm3d ckpt import --from chatglm-6b --out FILE.h5 DIR: ChatGLM weights "
                               "(DIR: config.json + *.safetensors, F16/BF16/F32) as a glm3d checkpoint");
  desc.add_options()                                          //
      ("from", po::value(&from), "import format: chatglm-6b") //
      ("out", po::value(&out), "output checkpoint file (.h5)");
  if (!parse_action(args, desc, dir, ctx, "ChatGLM directory: config.json + *.safetensors"))
    return 0;
  GLM3D_USAGE_CHECK(from == "chatglm-6b") << "glm3d ckpt import needs --from chatglm-6b";
  GLM3D_USAGE_CHECK(!out.empty()) << "glm3d ckpt import needs --out FILE.h5";
  return import_chatglm(dir, out);
}

} // namespace

int cmd_ckpt(const Args& args, const RunContext& ctx) {
  static const std::vector<Command> actions = {
      {"inspect", "CKPT: metadata, config, layout, every tensor's shape, dtype and checksum", cmd_inspect},
      {"verify", "CKPT: reads everything: checksums, shapes against the config, NaN/Inf", cmd_verify},
      {"export", "CKPT --out FILE.h5 (bf16 weights) | --to chatglm-6b --out DIR (safetensors)", cmd_export},
      {"import", "--from chatglm-6b --out FILE.h5 DIR: ChatGLM safetensors as a glm3d checkpoint",
       cmd_import},
      {"reshard", "CKPT --out DIR (under mpirun, with --tp/--pp/--dp/--zero): rewritten by another layout",
       cmd_ckpt_reshard},
  };
  return run_command("glm3d ckpt", "action", actions, args, ctx);
}

} // namespace glm3d
