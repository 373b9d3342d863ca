#pragma once
// LoRA's arithmetic on one linear of a tensor-parallel rank (model/adapters.h for the split):
//   column-parallel (the input x is whole on every rank, the output split):
//     z = drop(x) A^T            [N, r]   (A whole)
//     y_local += s z B_local^T   [N, out/tp]
//   row-parallel (the input split, the output summed over tp before the LoRA term is added):
//     z = allreduce_tp(drop(x_local) A_local^T)   [N, r]
//     y += s z B^T               [N, out]  (B whole; y already summed over tp)
// Backward (s = alpha / r): dB += s dy^T z; dz = s dy B; dA += dz^T drop(x);
// dx += drop'(dz A), where for the column-parallel case dz is this rank's part (the caller sums
// dx over tp as it does the base weight's input gradient, and the trainer sums dA over tp).
//
// Dropout is counter-based: element (sample k, position t, feature c) of a module's input at
// a step is kept iff uniform(key(seed, step, layer, module), (k S + t) in_full + c) >= p, then
// scaled by 1 / (1 - p) — the same mask on every layout and in backward (regenerated, not kept).
#include "model/act_store.h"

#include <cstdint>
#include <vector>

namespace glm3d {

struct LoraShape {
  int64_t N = 0, in = 0, out = 0, r = 0; // in, out: this rank's (local) widths
  double scaling = 1;
};

// Which elements dropout keeps and their scale, for one module's input on this rank.
struct LoraDropout {
  double p = 0;
  uint64_t key = 0;                     // stream key of (seed, step, layer, module)
  const int64_t* sample_ids = nullptr;  // [B] global sample index of each row block of S tokens
  int64_t S = 1, in_full = 0, col0 = 0; // tokens per sample; the full input width; this rank's first column
  bool active() const { return p > 0; }
};

// xd [N, in] = drop(x) (a copy of x when inactive).
template <class T> void lora_drop(const T* x, T* xd, const LoraShape& s, const LoraDropout& d);

// z [N, r] = xd A^T (A [r, in]); y [N, out] += scaling z B^T (B [out, r]).
template <class T> void lora_down(const T* xd, const T* A, T* z, const LoraShape& s);
template <class T> void lora_up(const T* z, const T* B, T* y, const LoraShape& s);

// Backward from dy [N, out]: dB += scaling dy^T z; dz [N, r] = scaling dy B (overwritten);
// dA += dz^T xd. Then dx [N, in] += drop'(dz A) by lora_input_grad.
template <class T>
void lora_backward(const T* dy, const T* xd, const T* z, const T* B, T* dz, T* dA, T* dB, const LoraShape& s);
template <class T>
void lora_input_grad(const T* dz, const T* A, T* dx, const LoraShape& s, const LoraDropout& d);

// PEFT's merge: W [out, in] += scaling B [out, r] A [r, in] (the adapted linear without dropout).
template <class T>
void merge_lora(T* W, const T* A, const T* B, int64_t out, int64_t in, int64_t r, double scaling);

} // namespace glm3d
