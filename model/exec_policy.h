#pragma once
// How a model share executes, as opposed to what the model is (model/config.h):
//   precision  f32: f32 weights, activations and math (the reference; bit-for-bit the pre-0.2
//                   trainer). bf16: bf16 compute weights refreshed once per optimizer step from
//                   the optimizer's f32 master copy, bf16 matmul inputs with f32 accumulation,
//                   f32 gradients; activations that feed a matmul stored in bf16.
//   recompute  none: every activation backward needs is kept per micro-batch.
//              selective: the attention core (scores, softmax, their product with V) is rerun
//                   in backward from the stored q, k, v (Korthikanti et al. 2022); with flash
//                   attention nothing S x S is stored anyway, so it equals none.
//              full: only each layer's input is kept; the layer's forward is rerun in backward.
//              Recomputation reruns the same kernels on the same inputs: losses and gradients
//              are bit-identical to none.
//   attention  dense: S x S probabilities (f32 only; the reference kernel). flash: blocked
//                   online softmax with per-row log-sum-exp only. auto: dense in f32, flash in bf16.
#include "core/cpu/matmul.h"

#include <string>

namespace glm3d {

enum class Recompute { none, selective, full };
enum class AttentionImpl { dense, flash };

struct ExecPolicy {
  cpu::Precision precision = cpu::Precision::f32;
  Recompute recompute = Recompute::none;
  AttentionImpl attention = AttentionImpl::dense;
  // QLoRA: the frozen base's four layer matrices are held in NF4 (model/qlora_base.h), outside
  // the weight buffer; their linears dequantize slab by slab.
  bool nf4_base = false;
  bool bf16() const { return precision == cpu::Precision::bf16; }
};

// UsageError naming the option for unknown words. attention "auto" follows the precision.
cpu::Precision parse_precision(const std::string& s); // "f32" | "bf16"
Recompute parse_recompute(const std::string& s);      // "none" | "selective" | "full"
// dense_ok: the model's attention has the dense kernel's layout (multi-head, q, k, v interleaved).
AttentionImpl parse_attention(const std::string& s, cpu::Precision p,
                              bool dense_ok = true); // auto|dense|flash
std::string to_string(cpu::Precision p);
std::string to_string(Recompute r);
std::string to_string(AttentionImpl a);

} // namespace glm3d
