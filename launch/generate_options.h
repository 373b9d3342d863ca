#pragma once
// The options glm3d generate and glm3d chat share: the checkpoint and its layout, the
// tokenizer, adapters, and sampling.
#include "infer/generator.h"
#include "infer/session.h"
#include "launch/options.h"

namespace glm3d {

struct GenerateCliOptions {
  SessionOptions session;
  SamplingOptions sampling;
  int64_t max_new_tokens = 64;
  int64_t min_new_tokens = 0;
  bool no_cache = false;
};

// --load --tokenizer --tp --pp --precision --adapter --ptuning --max-new-tokens --min-new-tokens
// --temperature
// --top-k --top-p --seed --greedy --no-kv-cache, their defaults taken from o.
void add_generate_options(po::options_description& desc, GenerateCliOptions& o);

// UsageError naming the option for a bad sampling option or --max-new-tokens (before loading).
void check_generate_options(const GenerateCliOptions& o);
// The generator's options: stops at the session's <eop> (and <eos>).
GenerateOptions generation_options(const GenerateCliOptions& o, const GenerationSession& s);

} // namespace glm3d
