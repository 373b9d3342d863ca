#pragma once
// Vocab-parallel cross-entropy on the GPU, with the semantics of core/cpu/cross_entropy.h:
// this rank holds logits [N, Vl] (T = float or bf16) for vocab ids [v0, v0 + Vl); ids >=
// vocab_real are padding. The three cross-rank reductions go through `reduce`, here over
// DEVICE buffers of f32 (e.g. NcclCommunicator::all_reduce on the tp group; for one rank
// VocabReduce<float>::local()). Losses and dloss are f32. Targets must lie in
// [0, vocab_real) where mask is set (not checked on the device; the CPU kernel checks).
#include "core/cpu/cross_entropy.h"
#include "core/cuda/allocator.h"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace glm3d::cuda {

// losses[N] = -log softmax(logits[n])[targets[n]] where mask[n] != 0, else 0.
// probs [N, Vl] (overwrite, may alias logits) holds the softmax for backward.
template <class T>
void vocab_parallel_ce_forward(const T* logits, const int32_t* targets, const uint8_t* mask, float* losses,
                               T* probs, int64_t N, int64_t Vl, int64_t v0, int64_t vocab_real,
                               const cpu::VocabReduce<float>& reduce, DeviceAllocator& alloc,
                               cudaStream_t stream);

// dlogits [N, Vl] (overwrite, may alias probs) = (probs - onehot(target)) * dloss[n] where
// mask[n] != 0, else 0.
template <class T>
void vocab_parallel_ce_backward(const T* probs, const int32_t* targets, const uint8_t* mask,
                                const float* dloss, T* dlogits, int64_t N, int64_t Vl, int64_t v0,
                                int64_t vocab_real, cudaStream_t stream);

} // namespace glm3d::cuda
