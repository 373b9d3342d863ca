#pragma once
// Prompts through the generator: the ChatGLM-style prompts of a batch together, and blank
// infilling (GLM-130B's generate.py fill_blanks) one blank at a time: each run fills the first
// blank left in every prompt that still has one, from `ids + <sop>`, and the generated span
// replaces that blank before the next run.
#include "infer/generator.h"
#include "infer/prompt.h"

#include <cstdint>
#include <vector>

namespace glm3d {

struct PromptResult {
  std::vector<int32_t> output;             // the new tokens; infill: the prompt, its blanks filled
  std::vector<std::vector<int32_t>> spans; // infill: the tokens generated for each blank
  bool stopped = false;                    // the last run ended by a stop token
};

// Every rank calls it with the same prompts. Prompt i draws as sequence first_key + i
// (infer/sampling.h). hooks.on_tokens sees every run's steps, in the order of `prompts`
// (-1 for a prompt not in the run).
std::vector<PromptResult> generate_prompts(Generator& gen, const std::vector<PreparedPrompt>& prompts,
                                           uint64_t first_key, const GenerateOptions& o, const SpecialIds& sp,
                                           const GenerateHooks& hooks = {});

} // namespace glm3d
