#pragma once
// Choosing the next token from a sequence's logits [V] (real vocabulary).
//
// Greedy: the first index of the largest logit. Sampling: Hugging Face's warpers in Hugging
// Face's order (transformers generation/utils.py _get_logits_warper; logits_process.py):
//   temperature   scores / temperature                     (skipped when temperature == 1)
//   top-k         remove scores < the k-th largest score   (ties with it stay; 0: off)
//   top-p         sort ascending, cumulative softmax; remove those whose cumulative
//                 probability is <= 1 - top_p (the largest always stays)   (1: off)
// then softmax over what is left and one draw. The draw is counter-based (Philox): the uniform
// of (seed, sequence, step), so a token depends on the logits, the seed, the sequence's index
// among the prompts and how many tokens the sequence has drawn, never on the layout, the
// batch or the rank.
#include <cstdint>
#include <vector>

namespace glm3d {

struct SamplingOptions {
  bool greedy = false;
  double temperature = 1.0;
  int64_t top_k = 0;  // 0: no top-k
  double top_p = 1.0; // 1: no top-p
  uint64_t seed = 0;
};

// UsageError naming the option when a value is out of range (temperature > 0, top-k >= 0,
// 0 < top-p <= 1).
void validate(const SamplingOptions& o);

// scores [V] in place: the warpers above; removed tokens become -infinity.
void warp_scores(float* scores, int64_t V, const SamplingOptions& o);

// The uniform in [0, 1) of draw `step` of sequence `sequence` under `seed`.
double sampling_uniform(uint64_t seed, uint64_t sequence, uint64_t step);

// The next token from logits [V]: argmax when greedy, else the draw from softmax(warped scores)
// whose cumulative probability (in index order) first exceeds the uniform.
int32_t next_token(const float* logits, int64_t V, const SamplingOptions& o, uint64_t sequence,
                   uint64_t step);

} // namespace glm3d
