#pragma once
// Everything `glm3d generate` and `glm3d chat` set up on every rank: the tp x pp layout (dp 1),
// this rank's share of the checkpoint, the generator, the special ids and the tokenizer.
#include "data/text_tokenizer.h"
#include "infer/adapter_file.h"
#include "infer/generator.h"
#include "infer/inference_model.h"
#include "infer/prompt.h"
#include "parallel/process_groups.h"
#include "train/checkpoint_format.h"

#include <memory>
#include <mpi.h>
#include <optional>
#include <string>

namespace glm3d {

class ChatGlm2Tokenizer;

struct SessionOptions {
  std::string load; // checkpoint file or directory (its latest)
  // glm3d's SentencePiece model, a token or SFT store, a ChatGLM-6B or ChatGLM2/3 tokenizer
  // directory (data/text_tokenizer.h load_text_tokenizer); "" for id prompts
  std::string tokenizer;
  int tp = 1, pp = 1;
  std::string precision = "f32"; // a float checkpoint's matrices: f32 or bf16
  std::string adapter, ptuning;  // infer/adapter_file.h
};

class GenerationSession {
public:
  // Collective over `world` (tp * pp ranks). UsageError, the same on every rank, for a bad
  // checkpoint, tokenizer, adapter or layout.
  GenerationSession(const SessionOptions& o, MPI_Comm world);
  ~GenerationSession();

  const CheckpointMeta& meta() const { return meta_; }
  const std::string& path() const { return path_; }
  const ModelConfig& config() const { return meta_.cfg; }
  const SpecialIds& special() const { return special_; }
  const TextTokenizer* tokenizer() const { return tokenizer_.get(); }
  InferenceModel& model() { return *model_; }
  Generator& generator() { return *generator_; }
  ProcessGroups& groups() { return groups_; }
  bool is_root() const { return groups_.rank == 0; }
  bool holds_logits() const { return groups_.is_last_stage() && groups_.tp_rank() == 0; }
  // <eop>, and <eos> when the tokenizer has one; ChatGLM2/3: eos, <|user|>, <|observation|>.
  std::vector<int32_t> stop_ids() const;
  // The prompt for the model's architecture: prepare_prompt, or prepare_causal_prompt.
  PreparedPrompt prepare(std::vector<int32_t> ids, int64_t seq_len, int64_t index) const;
  // One line: model, layout, weight formats and bytes of this rank.
  std::string describe() const;

private:
  void add_role_ids(const ChatGlm2Tokenizer& tok, const std::string& origin);
  CheckpointMeta meta_;
  std::string path_;
  WeightFormat format_ = WeightFormat::f32;
  std::unique_ptr<TextTokenizer> tokenizer_;
  SpecialIds special_;
  ProcessGroups groups_;
  std::unique_ptr<InferenceModel> model_;
  std::unique_ptr<Generator> generator_;
};

// A tokenizer from a .model file or a token store directory (its tokenizer.model).
Tokenizer load_tokenizer(const std::string& path);

} // namespace glm3d
