#include "infer/session.h"

#include "core/check.h"
#include "data/chatglm2_tokenizer.h"
#include "data/h5_attr.h"
#include "data/token_store.h"
#include "infer/model_loader.h"
#include "parallel/agreement.h"
#include "train/checkpoint_dir.h"
#include "train/checkpoint_io.h"
#include "train/peft_io.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

namespace glm3d {

Tokenizer load_tokenizer(const std::string& path) {
  const std::filesystem::path p(path);
  return Tokenizer::load(std::filesystem::is_directory(p) ? (p / k_tokenizer_name).string() : path);
}

namespace {

// The quantization of a quantized checkpoint (root attribute), for messages.
std::string stored_format(const std::string& path, const CheckpointMeta& meta) {
  if (meta.kind != k_quantized_kind)
    return meta.param_dtype;
  auto lock = h5::library_lock();
  h5::Handle f(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
  return h5::has_attr(f.get(), "quantization") ? h5::read_attr_str(f.get(), "quantization") : "quantized";
}

} // namespace

GenerationSession::GenerationSession(const SessionOptions& o, MPI_Comm world) {
  GLM3D_USAGE_CHECK(!o.load.empty()) << "give --load CKPT";
  format_ = parse_weight_format(o.precision);
  GLM3D_USAGE_CHECK(format_ == WeightFormat::f32 || format_ == WeightFormat::bf16)
      << "--precision must be f32 or bf16 (quantize with glm3d ckpt quantize), got '" << o.precision << "'";
  std::unique_ptr<LoraAdapter> lora; // --adapter's LoRA, until merged into the loaded weights
  run_agreed(world, [&] {
    const AdapterFile adapter = identify_adapter(o.adapter, o.ptuning);
    GLM3D_USAGE_CHECK(adapter.kind != AdapterFile::Kind::prefix)
        << adapter.path << ": " << adapter.what
        << " recognised, but generation does not apply prefix adapters yet (LoRA adapters it merges)";
    path_ = resolve_checkpoint(o.load);
    meta_ = read_checkpoint_meta(path_);
    validate(meta_.cfg);
    if (adapter.kind == AdapterFile::Kind::lora) { // merged into the matrices as they load
      GLM3D_USAGE_CHECK(meta_.kind != k_quantized_kind)
          << "--adapter " << adapter.path << ": LoRA merges into float weights, but " << path_
          << " is quantized (merge with glm3d ckpt merge-lora, then quantize)";
      lora = std::make_unique<LoraAdapter>(read_lora_adapter(adapter.path, meta_.cfg));
    }
    if (!o.tokenizer.empty()) {
      tokenizer_ = load_text_tokenizer(o.tokenizer);
      GLM3D_USAGE_CHECK(meta_.tokenizer_sha256.empty() || meta_.tokenizer_sha256 == tokenizer_->sha256())
          << "checkpoint " << path_ << " was trained with tokenizer sha256 " << meta_.tokenizer_sha256
          << ", but " << o.tokenizer << " has " << tokenizer_->sha256();
      GLM3D_USAGE_CHECK(tokenizer_->vocab_size() <= meta_.cfg.vocab)
          << "tokenizer " << o.tokenizer << " has " << tokenizer_->vocab_size()
          << " pieces, the model's vocabulary " << meta_.cfg.vocab;
    }
    special_ =
        resolve_special_ids(meta_.special_tokens, tokenizer_ ? &tokenizer_->special() : nullptr, path_);
    if (const auto* glm3 = dynamic_cast<const ChatGlm2Tokenizer*>(tokenizer_.get()); glm3 && glm3->chatglm3())
      add_role_ids(*glm3, o.tokenizer);
  });
  int world_size = 0;
  MPI_Comm_size(world, &world_size);
  const ParallelDims dims = ParallelDims::make(world_size, o.tp, o.pp, 1);
  validate_for_model(dims, meta_.cfg.num_layers, meta_.cfg.num_heads, meta_.cfg.ffn_hidden, {});
  groups_ = ProcessGroups::create(world, dims);
  const StagePlan plan = inference_plan(meta_.cfg, dims.tp, groups_.tp_rank(), dims.pp, groups_.pp_rank());
  model_ = std::make_unique<InferenceModel>(meta_.cfg, plan, *groups_.tp);
  load_inference_weights(*model_, path_, meta_, world, format_, lora.get());
  generator_ = std::make_unique<Generator>(*model_, *groups_.pp);
}

GenerationSession::~GenerationSession() = default;

// ChatGLM3's role ids from its tokenizer where the checkpoint has none (a glm3d-trained
// checkpoint records no roles); a checkpoint that records other ids is refused.
void GenerationSession::add_role_ids(const ChatGlm2Tokenizer& tok, const std::string& origin) {
  int32_t* ids[] = {&special_.system, &special_.user, &special_.assistant, &special_.observation};
  for (int k = 0; k < 4; ++k) {
    const int32_t want = tok.role_id(k_chatglm3_roles[k]);
    GLM3D_USAGE_CHECK(*ids[k] < 0 || *ids[k] == want)
        << "checkpoint " << path_ << " records <|" << k_chatglm3_roles[k] << "|> as " << *ids[k] << ", but "
        << origin << " has " << want;
    *ids[k] = want;
  }
}

std::vector<int32_t> GenerationSession::stop_ids() const {
  return generation_stop_ids(special_, meta_.cfg.mask == MaskKind::causal);
}

PreparedPrompt GenerationSession::prepare(std::vector<int32_t> ids, int64_t seq_len, int64_t index) const {
  if (meta_.cfg.mask == MaskKind::causal)
    return prepare_causal_prompt(std::move(ids), special_, meta_.cfg.vocab, seq_len, index);
  return prepare_prompt(std::move(ids), special_, meta_.cfg.vocab, seq_len, index);
}

std::string GenerationSession::describe() const {
  std::ostringstream os;
  auto mb = [](int64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f MiB", double(b) / 1048576.0);
    return std::string(buf);
  };
  const int64_t lb = model_->linear_bytes(), fb = model_->float_bytes();
  os << meta_.cfg.name << " (" << meta_.cfg.num_layers << " layers, hidden " << meta_.cfg.hidden
     << ", context " << meta_.cfg.seq_len << ") from " << path_ << ", tp " << groups_.dims.tp << " pp "
     << groups_.dims.pp << "; layer matrices "
     << (meta_.kind == k_quantized_kind ? stored_format(path_, meta_) : format_name(format_)) << " " << mb(lb)
     << ", embedding/norms/biases f32 " << mb(fb) << " (this rank)";
  return os.str();
}

} // namespace glm3d
