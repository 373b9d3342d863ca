#include "data/sft_causal.h"

#include "core/check.h"

#include <algorithm>

namespace glm3d {

std::string chatglm2_prompt(const std::vector<std::pair<std::string, std::string>>& history,
                            std::string_view query) {
  std::string p;
  for (size_t i = 0; i < history.size(); ++i)
    p += "[Round " + std::to_string(i + 1) + "]\n\n问：" + history[i].first + "\n\n答：" + history[i].second +
         "\n\n";
  return p + "[Round " + std::to_string(history.size() + 1) + "]\n\n问：" + std::string(query) + "\n\n答：";
}

void check_causal_sft_lengths(int64_t max_source_len, int64_t max_target_len) {
  GLM3D_USAGE_CHECK(max_source_len >= 3 && max_source_len <= 1000000)
      << "--max-source-len must be in [3, 1000000] for ChatGLM2/3 (the prompt keeps max-source-len - 2 "
         "tokens "
         "after [gMASK] sop), got "
      << max_source_len;
  GLM3D_USAGE_CHECK(max_target_len >= 1 && max_target_len <= 1000000)
      << "--max-target-len must be in [1, 1000000] for ChatGLM2/3, got " << max_target_len;
}

namespace {

// Padding, positions and the scalars of a causal row whose input_ids and labels hold its tokens.
void finish_causal_row(SftRow& r, const SpecialTokens& sp, int64_t S) {
  r.length = int32_t(r.input_ids.size());
  r.input_ids.resize(size_t(S), sp.pad);
  r.labels.resize(size_t(S), k_ignore_label);
  r.position_ids.resize(size_t(S));
  for (int64_t i = 0; i < S; ++i)
    r.position_ids[size_t(i)] = int32_t(i);
  r.block_position_ids.assign(size_t(S), 0);
  r.sep = 0;
  r.mask_position = 0;
}

} // namespace

SftRow build_chatglm2_row(std::vector<int32_t> a, std::vector<int32_t> b, const SpecialTokens& sp,
                          int64_t max_source_len, int64_t max_target_len) {
  check_causal_sft_lengths(max_source_len, max_target_len);
  SftRow r;
  r.prompt_truncated = int64_t(a.size()) > max_source_len - 2;
  r.answer_truncated = int64_t(b.size()) > max_target_len;
  a.resize(std::min(a.size(), size_t(max_source_len - 2)));
  b.resize(std::min(b.size(), size_t(max_target_len)));
  r.input_ids = {sp.gmask, sp.sop};
  r.input_ids.insert(r.input_ids.end(), a.begin(), a.end());
  r.labels.assign(r.input_ids.size(), k_ignore_label);
  r.input_ids.insert(r.input_ids.end(), b.begin(), b.end());
  r.input_ids.push_back(sp.eos);
  for (size_t i = r.labels.size(); i < r.input_ids.size(); ++i)
    r.labels.push_back(r.input_ids[i] == sp.pad ? k_ignore_label : r.input_ids[i]);
  finish_causal_row(r, sp, max_source_len + max_target_len + 1);
  return r;
}

SftRow build_chatglm3_row(const ConversationIds& c, const SpecialTokens& sp, int64_t S) {
  GLM3D_CHECK(c.ids.size() == c.loss.size() && S >= 1) << "conversation ids and loss flags";
  SftRow r;
  r.answer_truncated = int64_t(c.ids.size()) > S;
  const size_t n = std::min(c.ids.size(), size_t(S));
  r.input_ids.assign(c.ids.begin(), c.ids.begin() + std::ptrdiff_t(n));
  r.labels.resize(n);
  for (size_t i = 0; i < n; ++i) // loss_masks = [False, *loss_masks]
    r.labels[i] = i > 0 && c.loss[i - 1] ? c.ids[i] : k_ignore_label;
  finish_causal_row(r, sp, S);
  return r;
}

std::string causal_layout_problem(const SftRow& r, int64_t S, int64_t vocab, const SpecialTokens& sp) {
  for (int32_t t : r.input_ids)
    if (t < 0 || t >= vocab)
      return "token id " + std::to_string(t) + " outside the vocabulary of " + std::to_string(vocab);
  if (r.sep != 0 || r.mask_position != 0)
    return "sep " + std::to_string(r.sep) + " / mask position " + std::to_string(r.mask_position) +
           " (a causal row has 0 and 0)";
  if (r.length < 2 || r.length > S || r.input_ids[0] != sp.gmask || r.input_ids[1] != sp.sop)
    return "length " + std::to_string(r.length) + " or the [gMASK] sop prefix";
  for (int64_t i = 0; i < S; ++i) {
    const int32_t t = r.input_ids[size_t(i)], label = r.labels[size_t(i)];
    const bool real = i < r.length;
    if ((!real && (t != sp.pad || label != k_ignore_label)) || (label != k_ignore_label && label != t) ||
        r.position_ids[size_t(i)] != int32_t(i) || r.block_position_ids[size_t(i)] != 0)
      return "position " + std::to_string(i) + " (token, label or position ids)";
  }
  return "";
}

} // namespace glm3d
