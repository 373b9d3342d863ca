#include "data/sft_example.h"

#include "core/check.h"
#include "data/glm_collator.h"

#include <algorithm>

namespace glm3d {

std::string chat_prompt(const std::vector<std::pair<std::string, std::string>>& history,
                        std::string_view query) {
  std::string p;
  for (size_t i = 0; i < history.size(); ++i)
    p += "[Round " + std::to_string(i) + "]\n问：" + history[i].first + "\n答：" + history[i].second + "\n";
  p += "[Round " + std::to_string(history.size()) + "]\n问：" + std::string(query) + "\n答：";
  return p;
}

void check_sft_lengths(int64_t max_source_len, int64_t max_target_len) {
  GLM3D_USAGE_CHECK(max_source_len >= 1 && max_source_len <= 1000000)
      << "--max-source-len must be in [1, 1000000] (the prompt keeps max-source-len - 1 tokens), got "
      << max_source_len;
  GLM3D_USAGE_CHECK(max_target_len >= 2 && max_target_len <= 1000000)
      << "--max-target-len must be in [2, 1000000] (the answer keeps max-target-len - 2 tokens), got "
      << max_target_len;
}

namespace {
int32_t index_of(const std::vector<int32_t>& v, int32_t id) {
  return int32_t(std::find(v.begin(), v.end(), id) - v.begin());
}
} // namespace

SftRow build_sft_row(std::vector<int32_t> a, std::vector<int32_t> b, const SpecialTokens& sp,
                     int64_t max_source_len, int64_t max_target_len) {
  check_sft_lengths(max_source_len, max_target_len);
  const size_t S = size_t(max_source_len + max_target_len);
  SftRow r;
  r.prompt_truncated = int64_t(a.size()) > max_source_len - 1;
  r.answer_truncated = int64_t(b.size()) > max_target_len - 2;
  a.resize(std::min(a.size(), size_t(max_source_len - 1)));
  b.resize(std::min(b.size(), size_t(max_target_len - 2)));

  // build_inputs_with_special_tokens(a, b): a + [gMASK, <sop>] + b + [<eop>].
  r.input_ids = a;
  r.input_ids.push_back(sp.gmask);
  r.input_ids.push_back(sp.sop);
  r.input_ids.insert(r.input_ids.end(), b.begin(), b.end());
  r.input_ids.push_back(sp.eop);
  r.length = int32_t(r.input_ids.size());
  r.sep = index_of(r.input_ids, sp.sop);
  r.mask_position = index_of(r.input_ids, sp.gmask); // "gMASK if gMASK in seq else MASK": always there

  r.labels.assign(S, k_ignore_label);
  for (size_t i = size_t(r.sep); i < r.input_ids.size(); ++i)
    r.labels[i] = r.input_ids[i] == sp.pad ? k_ignore_label : r.input_ids[i];
  r.input_ids.resize(S, sp.pad);

  r.position_ids.resize(S);
  r.block_position_ids.assign(S, 0);
  for (size_t i = 0; i < S; ++i) {
    const bool part_b = i >= size_t(r.sep);
    r.position_ids[i] = part_b ? r.mask_position : int32_t(i);
    r.block_position_ids[i] = part_b ? int32_t(i) - r.sep + 1 : 0;
  }
  return r;
}

Sample sft_sample(const SftRow& row, int32_t pad, int64_t seq_len, bool causal) {
  const int64_t S = int64_t(row.input_ids.size());
  GLM3D_CHECK(seq_len >= S && row.labels.size() == size_t(S))
      << "SFT sample of " << S << " tokens into " << seq_len;
  Sample s;
  s.kind = k_kind_gmask;
  s.sep = row.sep;
  s.tokens = row.input_ids;
  s.tokens.resize(size_t(seq_len), pad);
  s.position_ids = row.position_ids;
  s.block_position_ids = row.block_position_ids;
  for (int64_t i = S; i < seq_len; ++i) {
    s.position_ids.push_back(causal ? int32_t(i) : row.mask_position);
    s.block_position_ids.push_back(causal ? 0 : int32_t(i) - row.sep + 1);
  }
  s.targets.assign(size_t(seq_len), pad);
  s.loss_mask.assign(size_t(seq_len), 0);
  for (int64_t i = 0; i + 1 < S; ++i) {
    const int32_t label = row.labels[size_t(i + 1)];
    if (label != k_ignore_label) {
      s.targets[size_t(i)] = label;
      s.loss_mask[size_t(i)] = 1;
    }
  }
  return s;
}

} // namespace glm3d
