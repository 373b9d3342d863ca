#pragma once
// Fine-tuning examples laid out for ChatGLM2/3 (a causal model: no bidirectional part), rows of
// S = max_source_len + max_target_len + 1 tokens:
//
// format chatglm2 (THUDM/ChatGLM2-6B ptuning/main.py preprocess_function_train at a33cb4f,
// ignore_pad_token_for_loss true, its default; transformers 4.27.1's truncation):
//   a = [gMASK] sop + encode(prompt)[: max_source_len - 2]     (encode(..., add_special_tokens=True,
//       truncation=True, max_length=max_source_len): the two prefix tokens count against it)
//   b = encode(answer)[: max_target_len]
//   input_ids = a + b + [eos], then pad (= unk, 0 in the release) up to S
//   labels    = -100 over a, then b + [eos]; -100 where a label equals the pad id, and over padding
// (the reference pads to max_source_len + max_target_len, so its longest example is one longer
// than the rest: S holds it; one more pad changes no loss.)
//
// format chatglm3 (THUDM/ChatGLM3 finetune_demo/finetune_hf.py process_batch at c1d4117): the
// conversation's ids and loss flags (data/sft_messages.h), then loss_masks = [False, *loss_masks]:
//   labels[i] = ids[i] if loss[i - 1] else -100 (labels[0] = -100); both cut to S
//   (max_input_length + max_output_length + 1), then pad / -100 (the collator's) up to S.
//
// Both: labels are unshifted (the model trains position i on labels[i + 1]: ChatGLM2/3's
// shift_logits / shift_labels); position_ids i over [0, S) (ChatGLM2's get_position_ids);
// block_position_ids 0; sep 0 (no Part A); mask_position 0 (the [gMASK] prefix); length = tokens
// before the padding.
#include "data/sft_example.h"
#include "data/sft_messages.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glm3d {

// ChatGLM2's build_prompt (tokenization_chatglm.py of THUDM/chatglm2-6b): rounds from 1,
//   "[Round 1]\n\n问：q1\n\n答：r1\n\n...[Round n]\n\n问：{query}\n\n答："
std::string chatglm2_prompt(const std::vector<std::pair<std::string, std::string>>& history,
                            std::string_view query);

// UsageError unless max_source_len >= 3 (room for one prompt token after [gMASK] sop: with less,
// transformers' truncation refuses and keeps the whole prompt) and max_target_len >= 1.
void check_causal_sft_lengths(int64_t max_source_len, int64_t max_target_len);

SftRow build_chatglm2_row(std::vector<int32_t> prompt_ids, std::vector<int32_t> answer_ids,
                          const SpecialTokens& sp, int64_t max_source_len, int64_t max_target_len);

// answer_truncated reports a conversation cut at S.
SftRow build_chatglm3_row(const ConversationIds& c, const SpecialTokens& sp, int64_t S);

// "" when the row follows the causal layout above (ids below vocab, labels -100 or the token,
// padding, positions), else what breaks it.
std::string causal_layout_problem(const SftRow& r, int64_t S, int64_t vocab, const SpecialTokens& sp);

} // namespace glm3d
