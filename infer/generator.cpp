#include "infer/generator.h"

#include "core/check.h"

#include <algorithm>
#include <limits>

namespace glm3d {

namespace {
constexpr int k_hidden_tag = 41; // the hidden state passed between pipeline stages
}

Generator::Generator(InferenceModel& model, Communicator& pp) : model_(model), pp_(pp) {}

void Generator::forward(const StepBatch& step, KvCache& cache, std::vector<float>& logits) {
  const int stage = pp_.rank(), stages = pp_.size();
  const int64_t n = step.total() * model_.config().hidden; // [T, H]
  x_.resize(size_t(n));
  if (stage > 0)
    pp_.irecv(x_.data(), size_t(n), DType::f32, stage - 1, k_hidden_tag)->wait();
  model_.forward(step, cache, x_);
  if (stage < stages - 1) {
    pp_.isend(x_.data(), size_t(n), DType::f32, stage + 1, k_hidden_tag)->wait();
    return;
  }
  logits.resize(size_t(step.size() * model_.config().vocab));
  model_.logits(step, x_.data(), logits.data());
}

void Generator::run(std::vector<GenSequence>& batch, const GenerateOptions& o, const GenerateHooks& hooks) {
  const ModelConfig& cfg = model_.config();
  const int64_t B = int64_t(batch.size()), V = cfg.vocab;
  GLM3D_CHECK(o.max_new_tokens >= 0) << "max_new_tokens " << o.max_new_tokens;
  // Left padding: slot first[b] + j holds token j of sequence b.
  int64_t longest = 0, slots = 1;
  for (const GenSequence& s : batch)
    longest = std::max(longest, int64_t(s.seq.ids.size()));
  std::vector<int64_t> first(size_t(B), 0);
  for (int64_t b = 0; b < B; ++b) {
    GenSequence& s = batch[size_t(b)];
    const int64_t len = int64_t(s.seq.ids.size()), end = std::min(len + o.max_new_tokens, cfg.seq_len);
    first[size_t(b)] = o.use_cache ? longest - len : 0;
    slots = std::max(slots, first[size_t(b)] + end);
    s.generated = 0;
    s.stopped = false;
    s.done = o.max_new_tokens == 0 || len >= cfg.seq_len;
  }
  KvCache cache = model_.make_cache(std::max<int64_t>(B, 1), slots);
  cache_bytes_ = cache.bytes();
  std::vector<float> logits;
  for (int64_t index = 0;; ++index) {
    const bool prefill = index == 0;
    StepBatch step;
    std::vector<int64_t> members; // batch index of each sequence in the step
    for (int64_t b = 0; b < B; ++b) {
      const GenSequence& s = batch[size_t(b)];
      if (s.done)
        continue;
      const int64_t n = int64_t(s.seq.ids.size()), cached = o.use_cache && !prefill ? n - 1 : 0;
      members.push_back(b);
      step.row.push_back(b);
      step.first.push_back(first[size_t(b)]);
      step.cached.push_back(cached);
      step.count.push_back(n - cached);
      step.sep.push_back(int32_t(s.seq.context));
      for (int64_t j = cached; j < n; ++j) {
        const GlmPosition at = sequence_position(s.seq, j);
        step.tokens.push_back(s.seq.ids[size_t(j)]);
        step.position.push_back(at.position);
        step.block.push_back(at.block);
      }
    }
    if (members.empty())
      break;
    if (hooks.on_step)
      hooks.on_step(step, index);
    forward(step, cache, logits);
    const int64_t Bs = step.size();
    std::vector<int32_t> chosen(size_t(Bs), -1);
    if (pp_.rank() == pp_.size() - 1)
      for (int64_t i = 0; i < Bs; ++i) {
        GenSequence& s = batch[size_t(members[size_t(i)])];
        float* row = logits.data() + i * V;
        if (hooks.on_logits)
          hooks.on_logits(members[size_t(i)], row);
        if (s.generated < o.min_new_tokens)
          for (int32_t t : o.stop)
            row[t] = -std::numeric_limits<float>::infinity();
        chosen[size_t(i)] = next_token(row, V, o.sampling, s.key, s.drawn);
      }
    pp_.broadcast(chosen.data(), size_t(Bs), DType::i32, pp_.size() - 1);
    std::vector<int32_t> tokens(size_t(B), -1);
    for (int64_t i = 0; i < Bs; ++i) {
      GenSequence& s = batch[size_t(members[size_t(i)])];
      const int32_t t = tokens[size_t(members[size_t(i)])] = chosen[size_t(i)];
      ++s.drawn, ++s.generated;
      s.stopped = std::find(o.stop.begin(), o.stop.end(), t) != o.stop.end();
      if (!s.stopped)
        s.seq.ids.push_back(t);
      s.done = s.stopped || s.generated >= o.max_new_tokens || int64_t(s.seq.ids.size()) >= cfg.seq_len;
    }
    if (hooks.on_tokens)
      hooks.on_tokens(tokens);
  }
}

} // namespace glm3d
