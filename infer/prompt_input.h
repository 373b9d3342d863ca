#pragma once
// Where prompts come from: --prompt TEXT, --prompt-ids 5,17,291, or a JSONL file with one
// object per line, {"prompt": "text"} or {"input_ids": [5, 17, 291]} (other keys are kept
// out of the way: ignored).
#include "data/text_tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

struct PromptInput {
  std::string text;         // the prompt as text ("" for ids)
  std::vector<int32_t> ids; // the prompt as ids (when given so)
  bool given_as_ids = false;
};

// "5,17,291" -> ids. UsageError naming the option on anything else ("" is an empty prompt).
std::vector<int32_t> parse_prompt_ids(const std::string& text);

// UsageError at FILE:LINE for a line that is not such an object.
std::vector<PromptInput> read_prompt_file(const std::string& path);

// The ids of a prompt: given ids as they are; text through the tokenizer with its
// special-token names as ids ([MASK], [gMASK], <sop>, ...). UsageError naming prompt `index`
// when text comes without a tokenizer.
std::vector<int32_t> prompt_ids(const PromptInput& p, const TextTokenizer* tokenizer, int64_t index);

} // namespace glm3d
