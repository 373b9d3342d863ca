#pragma once
// The generation loop of a batch of sequences on one rank of a tp x pp layout. Every rank runs
// it with the same sequences and options; the last pipeline stage chooses the tokens
// (infer/sampling.h: the same choice on every tp rank) and broadcasts them over the pipeline
// group, so every rank knows every sequence.
//
// A batch is left-padded: the cache holds sequence b's token j at slot first_b + j, first_b =
// (longest prompt) - (its prompt length), so the batch's new tokens share slots. The prefill runs
// every prompt's tokens (no padding tokens are computed); each decode step runs one token per
// sequence that has not stopped. Positions and the mask follow ChatGLM-6B (infer/prompt.h):
// Part A = the context (bidirectional), Part B from <sop> (causal), its positions fixed at the
// mask, its block positions 1, 2, ...; a causal model (ChatGLM2/3) takes positions 0..n-1 and no
// Part A. Without the cache (use_cache false) every step recomputes
// each sequence whole: the same tokens and, within rounding, the same logits.
#include "infer/inference_model.h"
#include "infer/prompt.h"
#include "infer/sampling.h"
#include "parallel/communicator.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace glm3d {

struct GenerateOptions {
  int64_t max_new_tokens = 64; // per sequence (an infill blank: per blank)
  SamplingOptions sampling;
  bool use_cache = true;
  std::vector<int32_t> stop; // a sequence stops after one of these (not kept in its ids)
  // The stop tokens cannot be drawn before this many new tokens (their logits -inf: Hugging
  // Face's MinNewTokensLengthLogitsProcessor).
  int64_t min_new_tokens = 0;
};

// One sequence of a batch: the GLM sequence (its ids grow), and its key for the sampler.
struct GenSequence {
  GlmSequence seq;
  uint64_t key = 0;      // the sequence's index among all prompts (infer/sampling.h)
  uint64_t drawn = 0;    // tokens drawn so far (continues across infill blanks)
  int64_t generated = 0; // tokens generated in the current run
  bool done = false;
  bool stopped = false; // ended by a stop token (not by length)
};

// Hooks: every rank sees each step before its forward (index 0: the run's prefill; tests,
// timing) and, after it, the tokens chosen (-1 for a sequence not in the step); the last
// pipeline stage gets each sequence's logits [vocab] before the choice.
struct GenerateHooks {
  std::function<void(const StepBatch& step, int64_t index)> on_step;
  std::function<void(const std::vector<int32_t>& tokens)> on_tokens;
  std::function<void(int64_t seq, const float* logits)> on_logits;
};

class Generator {
public:
  // pp: the pipeline group (rank = stage); the model holds this rank's stage.
  Generator(InferenceModel& model, Communicator& pp);

  // Generates until every sequence stopped: a stop token, max_new_tokens, or the model's
  // context (seq_len tokens). The new tokens are appended to each sequence's ids.
  void run(std::vector<GenSequence>& batch, const GenerateOptions& o, const GenerateHooks& hooks = {});

  // Bytes of the KV cache of the last run.
  int64_t cache_bytes() const { return cache_bytes_; }

private:
  // One forward of the pipeline over `step`; on the last stage logits [B, vocab].
  void forward(const StepBatch& step, KvCache& cache, std::vector<float>& logits);
  // Resets the sequences' state; first[b]: the cache slot of sequence b's token 0 (left
  // padding). Returns the slots the cache needs.
  int64_t start(std::vector<GenSequence>& batch, const GenerateOptions& o, std::vector<int64_t>& first);

  InferenceModel& model_;
  Communicator& pp_;
  int64_t cache_bytes_ = 0;
  std::vector<float> x_;
};

} // namespace glm3d
