#pragma once
// A set of parameters an optimizer updates, as the model holds them: the base model's weights,
// or a fine-tuning run's adapters (LoRA, prefix encoder). The optimizer, the gradient reductions
// and the checkpoint code see only this, so they serve both.
#include "core/dtype.h"
#include "model/config.h"
#include "model/param_table.h"

#include <cstdint>
#include <functional>

namespace glm3d {

struct ParamStore {
  const ModelConfig* cfg = nullptr;
  const ParamTable* table = nullptr; // names, shapes, tensor-parallel splits, offsets
  int tp_rank = 0;
  int64_t buffer_elems = 0;              // length of the buffers (padded for ZeRO-1's collectives)
  float* params = nullptr;               // f32 weights, or nullptr when the model computes in bf16:
  bf16* weights_bf16 = nullptr;          // then these are the weights, written from the master copy
  float* grads = nullptr;                // [buffer_elems]
  std::function<void()> weights_changed; // after the weights were written in place
  int64_t num_params() const { return table->total(); }
};

} // namespace glm3d
