#pragma once
// Internal to infer/: the private structures of InferenceModel shared by inference_model.cpp
// (weights, embedding, head) and inference_layer.cpp (one layer over the KV cache).
#include "core/cpu/flash_attention.h"
#include "infer/inference_model.h"

namespace glm3d {

// A layer's 1-D parameters (f32, pointers into floats_).
struct InferenceModel::Layer {
  const float *ln1_w, *ln1_b, *qkv_b, *o_b, *ln2_w, *ln2_b, *up_b, *down_b;
};

// Buffers reused by every call (grown to the largest step once).
struct InferenceModel::Scratch {
  std::vector<float> h, x1, h2;              // [T, H]: LN1 output, attention residual, LN2 output
  std::vector<float> wide;                   // [T, max(3Hl, Ul)]: qkv, then the FFN pre-activation
  std::vector<float> ctx, act;               // [T, Hl], [T, Fl]
  std::vector<float> mean, rstd;             // [T] LayerNorm statistics (not needed, the kernel writes them)
  std::vector<float> last, logits, gathered; // head: [B, H], [B, Vl], [tp, B, Vl]
  LinearScratch lin;
  cpu::FlashConfig flash;
};

template <class T> T* grown(std::vector<T>& v, int64_t n) {
  if (v.size() < size_t(n))
    v.resize(size_t(n));
  return v.data();
}

} // namespace glm3d
