#include "core/check.h"
#include "core/tensor.h"
#include "data/tokenizer.h"
#include "launch/ckpt_hf.h"
#include "model/chatglm2_convert.h"
#include "model/safetensors.h"
#include "train/checkpoint_stream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace glm3d {

namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  GLM3D_USAGE_CHECK(in) << "cannot read " << p.string();
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The safetensors files of an imported directory and which one holds each tensor.
struct HfDir {
  std::vector<std::unique_ptr<SafetensorsReader>> readers;
  std::map<std::string, SafetensorsReader*> where;
  const StTensorInfo* info(const std::string& name) const {
    const auto it = where.find(name);
    return it == where.end() ? nullptr : &it->second->tensors().at(name);
  }
};

// The shards model.safetensors.index.json names (and nothing else), or every *.safetensors.
std::vector<std::string> shard_files(const fs::path& dir, std::map<std::string, std::string>& weight_map) {
  const fs::path index = dir / "model.safetensors.index.json";
  std::set<std::string> files;
  if (fs::exists(index)) {
    weight_map = read_weight_map(read_text(index), index.string());
    for (const auto& [name, file] : weight_map) {
      GLM3D_USAGE_CHECK(fs::is_regular_file(dir / file))
          << index.string() << " puts tensor '" << name << "' in " << file << ", which is not in "
          << dir.string();
      files.insert(file);
    }
    return {files.begin(), files.end()};
  }
  bool pickles = false;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".safetensors")
      files.insert(e.path().filename().string());
    pickles |= e.path().extension() == ".bin";
  }
  GLM3D_USAGE_CHECK(!files.empty() || !pickles)
      << dir.string() << " holds PyTorch *.bin shards but no *.safetensors: convert each shard first "
      << "(safetensors.torch.save_file(torch.load(F), F[:-4] + '.safetensors'))";
  GLM3D_USAGE_CHECK(!files.empty()) << dir.string() << " holds no *.safetensors files";
  return {files.begin(), files.end()};
}

HfDir open_hf_dir(const fs::path& dir) {
  HfDir d;
  std::map<std::string, std::string> weight_map;
  for (const std::string& file : shard_files(dir, weight_map)) {
    d.readers.push_back(std::make_unique<SafetensorsReader>((dir / file).string()));
    for (const auto& [name, info] : d.readers.back()->tensors()) {
      GLM3D_USAGE_CHECK(!d.where.count(name))
          << "tensor '" << name << "' appears in two files of " << dir.string();
      GLM3D_USAGE_CHECK(weight_map.empty() || (weight_map.count(name) && weight_map.at(name) == file))
          << (dir / file).string() << " holds tensor '" << name
          << "', which model.safetensors.index.json does not put in that file";
      d.where[name] = d.readers.back().get();
    }
  }
  for (const auto& [name, file] : weight_map)
    GLM3D_USAGE_CHECK(d.where.count(name)) << "model.safetensors.index.json puts tensor '" << name << "' in "
                                           << file << ", which does not hold it";
  return d;
}

// Checks that `name` is in the directory with shape `want`.
void check_present(const HfDir& d, const fs::path& dir, const std::string& name,
                   const std::vector<int64_t>& want, const ModelConfig& cfg) {
  const StTensorInfo* info = d.info(name);
  GLM3D_USAGE_CHECK(info) << dir.string() << ": missing tensor '" << name
                          << "' (config.json: " << cfg.num_layers << " layers)";
  GLM3D_USAGE_CHECK(info->shape == want)
      << d.where.at(name)->path() << ": tensor '" << name << "' has shape " << shape_str(info->shape)
      << ", config.json makes it " << shape_str(want);
}

// Units in the last place (relative) of a stored dtype: the tolerance of a recomputed buffer,
// which torch computes in the checkpoint's own dtype.
double ulp(StDtype d) {
  return d == StDtype::f32   ? std::ldexp(1.0, -23)
         : d == StDtype::f16 ? std::ldexp(1.0, -10)
                             : std::ldexp(1.0, -7);
}

// An extra tensor present in the directory: a copy of the tensor in `buf`, or values of ours.
void check_extra(const HfDir& d, const HfExtra& e, const std::vector<float>& buf) {
  SafetensorsReader& r = *d.where.at(e.name);
  const StTensorInfo& info = r.tensors().at(e.name);
  std::vector<float> block;
  for (int64_t done = 0; done < info.numel();) {
    const int64_t n = std::min<int64_t>(info.numel() - done, int64_t(1) << 18);
    block.resize(size_t(n));
    r.read_f32(e.name, block.data(), done, n);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = done + i;
      if (e.copy) {
        GLM3D_USAGE_CHECK(block[size_t(i)] == buf[size_t(k)])
            << r.path() << ": " << e.name << " differs from " << e.after << " at element " << k << " ("
            << block[size_t(i)] << " vs " << buf[size_t(k)] << "; glm3d ties them)";
      } else {
        const double want = e.values[size_t(k)], got = block[size_t(i)];
        GLM3D_USAGE_CHECK(std::abs(got - want) <= 8 * ulp(info.dtype) * std::abs(want))
            << r.path() << ": " << e.name << "[" << k << "] is " << got << ", glm3d's RoPE uses " << want
            << " (1 / 10000^(2i / (head_dim / 2)), head_dim from config.json)";
      }
    }
    done += n;
  }
}

} // namespace

void import_hf(HfFamily family, const std::string& dir_name, const std::string& out) {
  const fs::path dir(dir_name);
  GLM3D_USAGE_CHECK(fs::is_directory(dir)) << dir_name << " is not a directory";
  const HfDir hf = open_hf_dir(dir);
  CheckpointMeta m;
  m.kind = "import";
  const fs::path tokenizer = dir / "tokenizer.model";
  const int64_t pieces = family != HfFamily::chatglm && fs::exists(tokenizer)
                             ? sentencepiece_piece_count(tokenizer.string())
                             : k_chatglm2_tokenizer_pieces;
  const fs::path cfg_path = dir / "config.json";
  auto shape_of = [&](const std::string& name) {
    const StTensorInfo* i = hf.info(name);
    return i ? i->shape : std::vector<int64_t>{};
  };
  m.cfg = hf_import_config(family, ConfigJson(read_text(cfg_path), cfg_path.string()), shape_of, pieces,
                           m.special_tokens);

  // The files must hold the model config.json describes, at 2 bytes a parameter at least (F16,
  // BF16), before the tensor list of that config is built and walked (found by tests/fuzz).
  double data_bytes = 0;
  for (const auto& [name, r] : hf.where)
    data_bytes += double(r->tensors().at(name).end - r->tensors().at(name).begin);
  GLM3D_USAGE_CHECK(2.0 * double(parameter_count(m.cfg)) <= data_bytes)
      << cfg_path.string() << " describes " << parameter_count(m.cfg) << " parameters, more than the "
      << uint64_t(data_bytes) << " bytes of tensors in " << dir.string() << "/*.safetensors hold";
  // Everything checked before a byte is written: each tensor present with its shape, nothing else.
  const std::vector<CkptTensor> tensors = checkpoint_tensors(m);
  const std::vector<HfExtra> extras = hf_extras(family, m.cfg);
  std::set<std::string> used;
  int64_t largest = 0;
  for (const CkptTensor& t : tensors) {
    const std::string name = hf_name(family, t.name);
    check_present(hf, dir, name, t.shape(), m.cfg);
    used.insert(name);
    largest = std::max(largest, t.numel());
  }
  for (const HfExtra& e : extras)
    if (hf.info(e.name)) {
      check_present(hf, dir, e.name, e.shape, m.cfg);
      used.insert(e.name);
    }
  for (const auto& [name, r] : hf.where)
    GLM3D_USAGE_CHECK(used.count(name) || hf_ignored(family, name))
        << r->path() << ": unexpected tensor '" << name << "' (not part of the " << hf_family_name(family)
        << " model config.json describes)";

  CheckpointStreamWriter w(out, m);
  std::vector<float> buf; // [rows, cols] of one tensor at a time
  buf.reserve(size_t(largest));
  for (const CkptTensor& t : tensors) {
    const std::string name = hf_name(family, t.name);
    buf.resize(size_t(t.numel()));
    hf.where.at(name)->read_f32(name, buf.data(), 0, t.numel());
    w.write(t.name, buf.data());
    for (const HfExtra& e : extras)
      if (e.after == t.name && hf.info(e.name))
        check_extra(hf, e, buf);
  }
  w.finish();
  std::printf("imported %s (%s) into %s\n", dir_name.c_str(), to_string(m.cfg).c_str(), out.c_str());
  std::string special;
  for (const auto& [k, v] : m.special_tokens)
    special += " " + k + "=" + std::to_string(v);
  std::printf("  special tokens:%s\n", special.empty() ? " none" : special.c_str());
}

} // namespace glm3d
