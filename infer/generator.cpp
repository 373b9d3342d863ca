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

namespace {

// The step of every sequence not done: with the cache, the prefill (index 0) feeds whole prompts
// and later steps the last token; without it every step feeds whole sequences. members: the
// batch index of each of the step's sequences.
// A causal model (ChatGLM2/3) takes positions 0..n-1, no block positions and no Part A.
StepBatch build_step(const std::vector<GenSequence>& batch, const std::vector<int64_t>& first, bool use_cache,
                     bool prefill, bool causal, std::vector<int64_t>& members) {
  StepBatch step;
  members.clear();
  for (int64_t b = 0; b < int64_t(batch.size()); ++b) {
    const GenSequence& s = batch[size_t(b)];
    if (s.done)
      continue;
    const int64_t n = int64_t(s.seq.ids.size()), cached = use_cache && !prefill ? n - 1 : 0;
    members.push_back(b);
    step.row.push_back(b);
    step.first.push_back(first[size_t(b)]);
    step.cached.push_back(cached);
    step.count.push_back(n - cached);
    step.sep.push_back(causal ? 0 : int32_t(s.seq.context));
    for (int64_t j = cached; j < n; ++j) {
      const GlmPosition at = causal ? GlmPosition{int32_t(j), 0} : sequence_position(s.seq, j);
      step.tokens.push_back(s.seq.ids[size_t(j)]);
      step.position.push_back(at.position);
      step.block.push_back(at.block);
    }
  }
  return step;
}

// A sequence's chosen token: appended unless it stops the sequence; done at a stop token,
// max_new_tokens or the context.
void advance(GenSequence& s, int32_t t, const GenerateOptions& o, int64_t seq_len) {
  ++s.drawn, ++s.generated;
  s.stopped = std::find(o.stop.begin(), o.stop.end(), t) != o.stop.end();
  if (!s.stopped)
    s.seq.ids.push_back(t);
  s.done = s.stopped || s.generated >= o.max_new_tokens || int64_t(s.seq.ids.size()) >= seq_len;
}

} // namespace

// Left padding: slot first[b] + j holds token j of sequence b; returns the slots the cache needs.
int64_t Generator::start(std::vector<GenSequence>& batch, const GenerateOptions& o,
                         std::vector<int64_t>& first) {
  const int64_t seq_len = model_.config().seq_len;
  int64_t longest = 0, slots = 1;
  for (const GenSequence& s : batch)
    longest = std::max(longest, int64_t(s.seq.ids.size()));
  first.assign(batch.size(), 0);
  for (size_t b = 0; b < batch.size(); ++b) {
    GenSequence& s = batch[b];
    const int64_t len = int64_t(s.seq.ids.size()), end = std::min(len + o.max_new_tokens, seq_len);
    first[b] = o.use_cache ? longest - len : 0;
    slots = std::max(slots, first[b] + end);
    s.generated = 0;
    s.stopped = false;
    s.done = o.max_new_tokens == 0 || len >= seq_len;
  }
  return slots;
}

void Generator::run(std::vector<GenSequence>& batch, const GenerateOptions& o, const GenerateHooks& hooks) {
  GLM3D_CHECK(o.max_new_tokens >= 0) << "max_new_tokens " << o.max_new_tokens;
  const int64_t B = int64_t(batch.size()), V = model_.config().vocab;
  const bool causal = model_.config().mask == MaskKind::causal;
  std::vector<int64_t> first, members;
  KvCache cache = model_.make_cache(std::max<int64_t>(B, 1), start(batch, o, first));
  cache_bytes_ = cache.bytes();
  std::vector<float> logits;
  for (int64_t index = 0;; ++index) {
    const StepBatch step = build_step(batch, first, o.use_cache, index == 0, causal, members);
    if (members.empty())
      break;
    if (hooks.on_step)
      hooks.on_step(step, index);
    forward(step, cache, logits);
    // The last stage chooses ([B_step]) and tells every stage.
    std::vector<int32_t> chosen(members.size(), -1);
    if (pp_.rank() == pp_.size() - 1)
      for (size_t i = 0; i < members.size(); ++i) {
        const GenSequence& s = batch[size_t(members[i])];
        float* row = logits.data() + int64_t(i) * V;
        if (hooks.on_logits)
          hooks.on_logits(members[i], row);
        if (s.generated < o.min_new_tokens)
          for (int32_t t : o.stop)
            row[t] = -std::numeric_limits<float>::infinity();
        chosen[i] = next_token(row, V, o.sampling, s.key, s.drawn);
      }
    pp_.broadcast(chosen.data(), chosen.size(), DType::i32, pp_.size() - 1);
    std::vector<int32_t> tokens(size_t(B), -1);
    for (size_t i = 0; i < members.size(); ++i) {
      tokens[size_t(members[i])] = chosen[i];
      advance(batch[size_t(members[i])], chosen[i], o, model_.config().seq_len);
    }
    if (hooks.on_tokens)
      hooks.on_tokens(tokens);
  }
}

} // namespace glm3d
