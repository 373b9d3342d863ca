#include "train/finetune_adapter.h"

#include "core/check.h"
#include "parallel/agreement.h"
#include "train/peft_io.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace glm3d {

void resolve_adapter_init(TrainJob& j) {
  const TrainOptions& o = j.opt;
  if (o.adapter_init.empty())
    return;
  GLM3D_USAGE_CHECK(j.adapters.method == FinetuneMethod::lora)
      << "--adapter " << o.adapter_init << " starts LoRA adapters: give --method lora";
  GLM3D_USAGE_CHECK(!j.resume.continues_run())
      << "--adapter starts a new run, but --load " << j.resume.path
      << " is this run's own checkpoint (resume it without --adapter)";
  const LoraAdapter a = read_lora_adapter(o.adapter_init, j.cfg);
  AdapterSpec s = spec_of_peft(a, j.cfg);
  const auto keep = [&](const char* option, bool same) {
    GLM3D_USAGE_CHECK(!o.given.count(option) || same)
        << "--" << option << " differs from --adapter " << o.adapter_init << "'s (its adapter_config.json)";
  };
  keep("lora-r", o.adapters.lora_r == s.lora_r);
  keep("lora-targets", o.adapters.lora_targets == s.lora_targets);
  if (o.given.count("lora-alpha"))
    s.lora_alpha = o.adapters.lora_alpha;
  if (o.given.count("lora-dropout"))
    s.lora_dropout = o.adapters.lora_dropout;
  j.adapters = s;
  if (j.log)
    std::printf("adapters from %s: %s\n", o.adapter_init.c_str(), describe(s).c_str());
}

void load_adapter_init(TrainJob& j) {
  if (j.opt.adapter_init.empty())
    return;
  const TensorMap t = glm3d_lora_tensors(read_lora_adapter(j.opt.adapter_init, j.cfg));
  DistributedOptimizer& o = *j.optim;
  std::vector<TensorPiece> pieces = shard_pieces(j.shard_view, j.cfg, o.master(), nullptr, nullptr);
  fill_pieces(pieces, t);
  o.publish();
}

void write_peft_of_save(const TrainJob& j, const std::string& path) {
  if (j.adapters.method != FinetuneMethod::lora)
    return;
  run_on_root(j.world, 0,
              [&] { export_peft(path, (std::filesystem::path(j.opt.save_dir) / "peft").string()); });
}

void load_finetune_for_eval(GlmModel<float>& model, const ResumeFrom& ck, const ProcessGroups& pg,
                            MPI_Comm world) {
  GLM3D_USAGE_CHECK(ck.meta.adapters.method == FinetuneMethod::lora ||
                    ck.meta.adapters.method == FinetuneMethod::ptuning)
      << "checkpoint " << ck.path << " holds " << to_string(ck.meta.adapters.method)
      << " adapters; glm3d eval applies LoRA and P-tuning adapters";
  const ResumeFrom base = open_base(ck.meta.base_checkpoint);
  check_resume(base, ck.meta.cfg, ck.meta.tokenizer_sha256);
  std::vector<TensorPiece> pieces = shard_pieces(ShardView{&model.table(), pg.tp_rank(), pg.is_first_stage(),
                                                           pg.dp_rank(), false, 0, model.num_params()},
                                                 ck.meta.cfg, model.params(), nullptr, nullptr);
  load_checkpoint(base.path, world, base.meta, pieces);
  model.weights_changed();
  model.attach_adapters(ck.meta.adapters, 0, ck.meta.seed);
  model.training = false;
  const ParamStore a = model.adapter_store();
  pieces = shard_pieces(
      ShardView{a.table, pg.tp_rank(), pg.is_first_stage(), pg.dp_rank(), false, 0, a.table->total()},
      ck.meta.cfg, a.params, nullptr, nullptr);
  load_checkpoint(ck.path, world, ck.meta, pieces);
}

} // namespace glm3d
