#pragma once
// P-tuning v2's prefix encoder (ChatGLM-6B / ChatGLM2-6B's PrefixEncoder, model/ptuning_format.h)
// on one rank: the arithmetic of the encoder and of its slice a rank's layer uses.
//
//   no projection:   out [P, C] = embedding                           (C = 2 L kvw)
//   projection:      t [P, H] = tanh(embedding [P, E] W0^T + b0)       (E = H for ChatGLM-6B, C for 2/3)
//                    out [P, C] = t W2^T + b2                          (W2 [C, H])
// Layer l's key is columns (2l) kvw + [0, kvw) of out, its value (2l + 1) kvw + [0, kvw)
// (get_prompt's view [P, 2L, heads, hd]); a tensor-parallel rank takes its key/value heads'
// columns c0 + [0, w) of each. Dropout (training) acts per sample after the batch expansion:
// element (sample k, position p, column c) of out is kept iff the Philox uniform of
// (key(seed, step, layer), (k P + p) C + c) is >= p_drop, then scaled by 1 / (1 - p_drop).
// The encoder output is linear in the slices' gradients, so each layer's backward runs the
// whole chain for its slice and the trainer sums the encoder's gradients over tp x pp.
#include <cstdint>

namespace glm3d {

template <class T> struct PrefixEncoderRef {
  int64_t P = 0, E = 0, H = 0, C = 0; // prefix length, embedding width, hidden, output columns
  bool projection = false;
  const T *emb = nullptr, *w0 = nullptr, *b0 = nullptr, *w2 = nullptr, *b2 = nullptr;
  T *gemb = nullptr, *gw0 = nullptr, *gb0 = nullptr, *gw2 = nullptr, *gb2 = nullptr; // += gradients
};

// The slice of one layer on this rank: key columns [key, key + w), value columns [value, value + w).
struct PrefixSlice {
  int64_t key = 0, value = 0, w = 0;
};

// Projection only: t [P, H] = tanh(emb W0^T + b0).
template <class T> void prefix_hidden(const PrefixEncoderRef<T>& e, T* t);
// kv [P, 2, w]: the slice's keys then values of every prefix position (t: prefix_hidden's output).
template <class T>
void prefix_slice_forward(const PrefixEncoderRef<T>& e, const T* t, const PrefixSlice& s, T* kv);
// From dkv [P, 2, w] (summed over the batch): the encoder's gradients += (every tensor with projection).
template <class T>
void prefix_slice_backward(const PrefixEncoderRef<T>& e, const T* t, const PrefixSlice& s, const T* dkv);

// The dropout scale (0 or 1 / (1 - p)) of element `index` of the stream `key`; shared with LoRA.
double dropout_keep_scale(uint64_t key, uint64_t index, double p);

} // namespace glm3d
