#pragma once
// Prompts for generation: the special token ids, how a prompt becomes a GLM input, and the
// position ids of every token of a generated sequence.
//
// A prompt's ids (text encoded with its special-token names, or ids as given):
//   - holding <sop>: used as given: Part A is everything before the first <sop>, Part B from it
//     (ChatGLM-6B: context_length = seq.index(bos_token_id));
//   - holding [MASK] or [sMASK] but no [gMASK]: blank infilling (GLM-130B's generate.py
//     fill_blanks): each blank in turn gets `ids + <sop>` generated up to <eop>, and the
//     generated span replaces the blank before the next one;
//   - holding [gMASK]: <sop> appended;
//   - holding none of them: [gMASK] <sop> appended, as ChatGLM-6B's tokenizer does
//     (tokenization_chatglm.py build_inputs_with_special_tokens).
// The mask a Part B's positions refer to: [gMASK] if Part A holds one, else the first [MASK] or
// [sMASK] (ChatGLM-6B prepare_inputs_for_generation: gMASK if gMASK in seq else MASK).
#include "data/glm_positions.h"
#include "data/tokenizer.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace glm3d {

struct SpecialIds {
  int32_t mask = -1, gmask = -1, smask = -1, sop = -1, eop = -1, eos = -1, pad = -1;
  // ChatGLM3's role tokens (<|system|> 64794, <|user|>, <|assistant|>, <|observation|> 64797).
  int32_t system = -1, user = -1, assistant = -1, observation = -1;
};

// The ids from a checkpoint's special_tokens group (ChatGLM's config.json names: bos_token_id is
// <sop>, eos_token_id is <eop>, mask, gmask, pad; glm3d's own names sop, eop, smask, eos too),
// the tokenizer's (may be null) filling in the rest. A ChatGLM2/3 import records eos (2) and eop
// (64793) apart: there eos is the end of text, and system, user, assistant, observation are
// ChatGLM3's role tokens. UsageError naming both when the checkpoint
// and the tokenizer disagree on an id.
SpecialIds resolve_special_ids(const std::map<std::string, int64_t>& checkpoint,
                               const SpecialTokens* tokenizer, const std::string& checkpoint_path);

// A prompt ready to generate from.
struct PreparedPrompt {
  std::vector<int32_t> ids; // Part A (+ Part B from <sop>); infill: the text with its blanks
  bool infill = false;      // [MASK] / [sMASK] blanks filled in turn
};

// UsageError (naming prompt `index`) when the prompt is empty, when an id is outside the
// vocabulary, when a given <sop> has no mask before it, when a needed special id is unknown,
// or when the prompt leaves no room for one new token in the model's context of `seq_len`.
PreparedPrompt prepare_prompt(std::vector<int32_t> ids, const SpecialIds& sp, int64_t vocab, int64_t seq_len,
                              int64_t index);

// ChatGLM2/3 (a causal model): [gMASK] <sop> at the start, as their tokenizer's
// build_inputs_with_special_tokens (prefix tokens) has it, unless the ids already start with
// them. The same UsageErrors as prepare_prompt.
PreparedPrompt prepare_causal_prompt(std::vector<int32_t> ids, const SpecialIds& sp, int64_t vocab,
                                     int64_t seq_len, int64_t index);

// The tokens that end a generated sequence (those known): GLM-130B / ChatGLM-6B: <eop>, <eos>;
// a causal model (ChatGLM2/3): eos, <|user|>, <|observation|> (ChatGLM3's modeling_chatglm.py
// chat: eos_token_id = [eos, <|user|>, <|observation|>]; ChatGLM2's config: eos 2).
std::vector<int32_t> generation_stop_ids(const SpecialIds& sp, bool causal);

// A sequence being generated: Part A = ids[0, context), Part B from ids[context] = <sop>.
struct GlmSequence {
  std::vector<int32_t> ids;
  int64_t context = 0;    // index of the first <sop>
  int64_t mask_index = 0; // the mask Part B's positions refer to
};

// ids holding <sop> (a prepared prompt, or an infill round's ids + <sop>) -> the sequence.
GlmSequence glm_sequence(std::vector<int32_t> ids, const SpecialIds& sp);
// The index of the blank an infill round fills: the first [MASK] or [sMASK]; -1 when none is left.
int64_t next_blank(const std::vector<int32_t>& ids, const SpecialIds& sp);

// Position ids of token j of a sequence (data/glm_positions.h's rule): j < context: Part A;
// else Part B token j - context of the span whose mask is at mask_index.
inline GlmPosition sequence_position(const GlmSequence& s, int64_t j) {
  return j < s.context ? part_a_position(j) : part_b_position(s.mask_index, j - s.context);
}

} // namespace glm3d
