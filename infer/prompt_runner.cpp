#include "infer/prompt_runner.h"

#include "core/check.h"

namespace glm3d {

namespace {

// The run's hooks in prompt order: `members[i]` is the prompt of the run's sequence i.
GenerateHooks for_members(const GenerateHooks& h, const std::vector<size_t>& members, size_t prompts) {
  GenerateHooks out = h;
  if (h.on_tokens)
    out.on_tokens = [&h, members, prompts](const std::vector<int32_t>& t) {
      std::vector<int32_t> all(prompts, -1);
      for (size_t i = 0; i < members.size(); ++i)
        all[members[i]] = t[i];
      h.on_tokens(all);
    };
  if (h.on_logits)
    out.on_logits = [&h, members](int64_t seq, const float* logits) {
      h.on_logits(int64_t(members[size_t(seq)]), logits);
    };
  return out;
}

} // namespace

std::vector<PromptResult> generate_prompts(Generator& gen, const std::vector<PreparedPrompt>& prompts,
                                           uint64_t first_key, const GenerateOptions& o, const SpecialIds& sp,
                                           const GenerateHooks& hooks) {
  std::vector<PromptResult> out(prompts.size());
  std::vector<uint64_t> drawn(prompts.size(), 0);
  std::vector<std::vector<int32_t>> text(prompts.size()); // infill: the prompt as filled so far
  for (size_t i = 0; i < prompts.size(); ++i)
    text[i] = prompts[i].ids;
  for (bool first_run = true;; first_run = false) {
    // This run: every ChatGLM-style prompt (first run only) and every infill prompt with a blank left.
    std::vector<GenSequence> batch;
    std::vector<size_t> members;
    for (size_t i = 0; i < prompts.size(); ++i) {
      if (!prompts[i].infill) {
        if (first_run)
          batch.push_back({glm_sequence(prompts[i].ids, sp), first_key + i, drawn[i]}), members.push_back(i);
        continue;
      }
      const int64_t blank = next_blank(text[i], sp);
      if (blank < 0)
        continue;
      // Part A: the text so far; Part B from the <sop> after it, positioned at the blank.
      GlmSequence seq{text[i], int64_t(text[i].size()), blank};
      seq.ids.push_back(sp.sop);
      batch.push_back({std::move(seq), first_key + i, drawn[i]});
      members.push_back(i);
    }
    std::vector<size_t> start(batch.size()); // where each sequence's new tokens begin
    for (size_t j = 0; j < batch.size(); ++j)
      start[j] = batch[j].seq.ids.size();
    if (batch.empty())
      break;
    gen.run(batch, o, for_members(hooks, members, prompts.size()));
    for (size_t j = 0; j < batch.size(); ++j) {
      const size_t i = members[j];
      const GlmSequence& s = batch[j].seq;
      const std::vector<int32_t> span(s.ids.begin() + int64_t(start[j]), s.ids.end());
      drawn[i] = batch[j].drawn;
      out[i].stopped = batch[j].stopped;
      if (!prompts[i].infill) {
        out[i].output = span;
        continue;
      }
      const int64_t blank = s.mask_index; // the blank filled: text[i] = prefix [MASK] suffix
      std::vector<int32_t> filled(text[i].begin(), text[i].begin() + blank);
      filled.insert(filled.end(), span.begin(), span.end());
      filled.insert(filled.end(), text[i].begin() + blank + 1, text[i].end());
      text[i] = std::move(filled);
      out[i].spans.push_back(span);
    }
  }
  for (size_t i = 0; i < prompts.size(); ++i)
    if (prompts[i].infill)
      out[i].output = text[i];
  return out;
}

} // namespace glm3d
