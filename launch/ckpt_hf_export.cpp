#include "core/check.h"
#include "core/tensor.h"
#include "launch/ckpt_hf.h"
#include "model/safetensors.h"
#include "train/checkpoint_stream.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace glm3d {

namespace {

namespace fs = std::filesystem;

// One tensor of the export: from the checkpoint (src) or an extra (a copy of src, or values).
struct OutTensor {
  StTensorSpec spec;
  const CkptTensor* src = nullptr;
  const HfExtra* extra = nullptr;
  uint64_t bytes() const { return uint64_t(numel_of(spec.shape)) * (spec.dtype == StDtype::f32 ? 4 : 2); }
};

// Every glm3d tensor in checkpoint order, each followed by the extras written after it.
std::vector<OutTensor> out_tensors(HfFamily family, const std::vector<CkptTensor>& tensors,
                                   const std::vector<HfExtra>& extras, StDtype dt) {
  std::vector<OutTensor> all;
  for (const CkptTensor& t : tensors) {
    all.push_back({{hf_name(family, t.name), t.shape(), dt}, &t, nullptr});
    for (const HfExtra& e : extras)
      if (e.after == t.name)
        all.push_back({{e.name, e.shape, dt}, e.copy ? &t : nullptr, &e});
  }
  return all;
}

// Greedy shards of at most max_shard_mb (a tensor larger than that gets a shard of its own).
std::vector<std::vector<OutTensor>> shard(const std::vector<OutTensor>& all, double max_shard_mb) {
  std::vector<std::vector<OutTensor>> shards(1);
  uint64_t in_shard = 0;
  for (const OutTensor& t : all) {
    if (!shards.back().empty() && double(in_shard + t.bytes()) > max_shard_mb * 1048576.0)
      shards.emplace_back(), in_shard = 0;
    shards.back().push_back(t);
    in_shard += t.bytes();
  }
  return shards;
}

} // namespace

void export_hf(HfFamily family, const std::string& ckpt, const std::string& dir,
               const std::string& dtype_name, double max_shard_mb) {
  GLM3D_USAGE_CHECK(dtype_name == "f16" || dtype_name == "bf16" || dtype_name == "f32")
      << "--dtype must be f16, bf16 or f32, got '" << dtype_name << "'";
  const StDtype dt = dtype_name == "f16" ? StDtype::f16 : dtype_name == "bf16" ? StDtype::bf16 : StDtype::f32;
  const std::string torch_dtype = dt == StDtype::f16    ? "float16"
                                  : dt == StDtype::bf16 ? "bfloat16"
                                                        : "float32";
  CheckpointStreamReader r(ckpt);
  const CheckpointMeta& m = r.meta();
  // Refuses a model the family cannot hold before anything is written.
  const std::string config = hf_export_config(family, m.cfg, m.special_tokens, torch_dtype);
  const std::vector<HfExtra> extras = hf_extras(family, m.cfg);
  const std::vector<std::vector<OutTensor>> shards =
      shard(out_tensors(family, r.tensors(), extras, dt), max_shard_mb);
  std::error_code ec;
  fs::create_directories(dir, ec);
  GLM3D_USAGE_CHECK(!ec && fs::is_directory(dir)) << "cannot create " << dir;

  int64_t largest = 0;
  for (const CkptTensor& t : r.tensors())
    largest = std::max(largest, t.numel());
  std::vector<float> buf; // [rows, cols] of the checkpoint tensor last read
  buf.reserve(size_t(largest));
  const CkptTensor* loaded = nullptr;
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  uint64_t total = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    char name[64];
    if (shards.size() == 1)
      std::snprintf(name, sizeof name, "model.safetensors");
    else
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    std::vector<StTensorSpec> specs;
    for (const OutTensor& t : shards[s])
      specs.push_back(t.spec);
    SafetensorsStreamWriter w((fs::path(dir) / name).string(), specs, {{"format", "pt"}});
    for (const OutTensor& t : shards[s]) {
      if (t.src && t.src != loaded) {
        buf.resize(size_t(t.src->numel()));
        r.read(*t.src, buf.data());
        loaded = t.src;
      }
      w.write(t.spec.name, t.src ? buf.data() : t.extra->values.data());
      weight_map[t.spec.name] = name;
      total += t.bytes();
    }
    w.finish();
  }
  if (shards.size() > 1) {
    const nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    std::ofstream(fs::path(dir) / "model.safetensors.index.json") << index.dump(2) << "\n";
  }
  std::ofstream(fs::path(dir) / "config.json") << config;
  std::printf("exported %s (step %lld) as %s %s safetensors to %s (%zu shard%s)\n", ckpt.c_str(),
              (long long)m.step, hf_family_name(family).c_str(), st_dtype_name(dt).c_str(), dir.c_str(),
              shards.size(), shards.size() > 1 ? "s" : "");
}

} // namespace glm3d
