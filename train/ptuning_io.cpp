#include "train/ptuning_io.h"

#include "core/check.h"
#include "model/ptuning_format.h"

#include <filesystem>

namespace glm3d {

namespace {
// Our table's name ("prefix_encoder.trans.0.bias", [H, 1]) as ChatGLM's key and shape.
std::string file_name(const ParamInfo& p) {
  return "transformer." + p.name;
}
std::vector<int64_t> file_shape(const ParamInfo& p) {
  const bool bias = p.name.size() > 5 && p.name.compare(p.name.size() - 5, 5, ".bias") == 0;
  return bias ? std::vector<int64_t>{p.rows} : std::vector<int64_t>{p.rows, p.cols};
}
} // namespace

void load_ptuning_init(TrainJob& j) {
  const std::string& dir = j.opt.ptuning_init;
  if (dir.empty())
    return;
  GLM3D_USAGE_CHECK(j.adapters.prefix()) << "--ptuning needs --method ptuning";
  GLM3D_USAGE_CHECK(!j.resume.continues_run())
      << "--ptuning starts a new run; " << j.resume.path << " already holds this run's prefix encoder";
  const TensorMap t = read_ptuning_checkpoint(dir, prefix_encoder_spec(j.cfg, j.adapters));
  float* params = j.model->adapter_params();
  for (const ParamInfo& p : j.model->adapter_table().params()) {
    const HostTensor& h = t.at(file_name(p));
    std::copy(h.data.begin(), h.data.end(), params + p.offset);
  }
  if (j.log)
    std::printf("prefix encoder initialised from %s\n", dir.c_str());
}

void save_ptuning_export(const TrainJob& j) {
  if (!j.adapters.prefix() || j.rank != 0)
    return;
  TensorMap t;
  GlmModel<float>& m = *j.model;
  for (const ParamInfo& p : m.adapter_table().params()) {
    const float* v = m.adapter_params() + p.offset;
    t[file_name(p)] = HostTensor{file_shape(p), std::vector<float>(v, v + p.numel())};
  }
  const std::string dir = (std::filesystem::path(j.opt.save_dir) / "ptuning").string();
  write_ptuning_checkpoint(dir, prefix_encoder_spec(j.cfg, j.adapters), t);
}

} // namespace glm3d
