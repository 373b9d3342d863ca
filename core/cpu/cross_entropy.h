#pragma once
// Vocab-parallel cross-entropy over target tokens only.
// This rank holds logits [N, Vl] for vocab ids [v0, v0 + Vl) of the padded vocab;
// ids >= vocab_real are padding and never take part (their probability is 0).
// The three cross-rank reductions (max, sum of exp, target logit) go through
// `reduce`; for one rank pass VocabReduce<T>::local().
#include <cstdint>
#include <functional>

namespace glm3d::cpu {

template <class T> struct VocabReduce {
  std::function<void(T* buf, int64_t n)> max; // in-place element-wise max over the group
  std::function<void(T* buf, int64_t n)> sum; // in-place element-wise sum over the group
  static VocabReduce local() {
    return {[](T*, int64_t) {}, [](T*, int64_t) {}};
  }
};

// losses[N] = -log softmax(logits[n])[targets[n]] where mask[n] != 0, else 0.
// probs [N, Vl] (overwrite) holds the softmax for backward (may alias logits).
template <class T>
void vocab_parallel_ce_forward(const T* logits, const int32_t* targets, const uint8_t* mask, T* losses,
                               T* probs, int64_t N, int64_t Vl, int64_t v0, int64_t vocab_real,
                               const VocabReduce<T>& reduce);

// dlogits [N, Vl] (overwrite) = (probs - onehot(target)) * dloss[n]  where mask[n] != 0, else 0.
// May alias probs.
template <class T>
void vocab_parallel_ce_backward(const T* probs, const int32_t* targets, const uint8_t* mask, const T* dloss,
                                T* dlogits, int64_t N, int64_t Vl, int64_t v0, int64_t vocab_real);

} // namespace glm3d::cpu
