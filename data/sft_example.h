#pragma once
// One fine-tuning example laid out as ChatGLM-6B's P-tuning code builds it for training
// (THUDM/ChatGLM-6B ptuning/main.py preprocess_function_train at 401bf3a, with
// ignore_pad_token_for_loss, the default) and as its model derives positions from the ids
// (chatglm-6b modeling_chatglm.py get_position_ids / get_masks at 8b7d335):
//
//   prompt ids a (truncated to max_source_len - 1), answer ids b (truncated to max_target_len - 2)
//   input_ids  = a + [gMASK] + <sop> + b + <eop>, then <pad> up to S = max_source_len + max_target_len
//   labels     = -100 over [0, ctx), input_ids[i] from ctx on; -100 where the label is <pad>
//                (ctx = first <sop>: the context length; labels are unshifted, as in Hugging Face)
//   position_ids       i over [0, ctx), the mask position (first [gMASK]) from ctx on
//   block_position_ids 0 over [0, ctx), 1, 2, ... from ctx on (padding included)
//
// The model shifts the labels: position i predicts labels[i + 1]. So the [gMASK] position
// (ctx - 1) predicts <sop>, <sop> predicts b0, ..., the last answer token predicts <eop>.
// As a glm3d Sample: Part A = [0, ctx) (bidirectional), Part B = [ctx, S) (causal),
// targets[i] = labels[i + 1], loss_mask[i] = labels[i + 1] != -100.
#include "data/sample.h"
#include "data/tokenizer.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glm3d {

inline constexpr int32_t k_ignore_label = -100;

// ptuning/main.py's chat prompt: "[Round i]\n问：{q}\n答：{r}\n" per history turn, then
// "[Round n]\n问：{query}\n答：" (n = turns), all after source_prefix.
std::string chat_prompt(const std::vector<std::pair<std::string, std::string>>& history,
                        std::string_view query);

// One stored example, each vector [S].
struct SftRow {
  std::vector<int32_t> input_ids, labels, position_ids, block_position_ids;
  int32_t sep = 0;           // context length: index of the first <sop>
  int32_t mask_position = 0; // index of the first [gMASK] ([MASK] when there is none)
  int32_t length = 0;        // tokens before the padding
  bool prompt_truncated = false, answer_truncated = false;
  int32_t source_file = 0; // where it came from: the input file's index in --input ...
  int64_t source_line = 0; // ... and its line (1-based)
};

// UsageError unless max_source_len >= 1 and max_target_len >= 2.
void check_sft_lengths(int64_t max_source_len, int64_t max_target_len);

SftRow build_sft_row(std::vector<int32_t> prompt_ids, std::vector<int32_t> answer_ids,
                     const SpecialTokens& sp, int64_t max_source_len, int64_t max_target_len);

// The training sample of a row, of length seq_len >= the row's S (further padding continues the
// row's: <pad>, the mask position, block positions counting on, no loss; causal rows
// (data/sft_causal.h): <pad>, positions counting on, block positions 0). kind = [gMASK].
Sample sft_sample(const SftRow& row, int32_t pad, int64_t seq_len, bool causal = false);

} // namespace glm3d
