#pragma once
// Parameter initialisation from the counter-based RNG: element i of tensor `name`
// gets a value that depends only on (seed, name, global index i), never on the layout.
//   LayerNorm weight 1, biases 0, word embeddings N(0, init_std),
//   other weights Xavier-normal std = gain * sqrt(2 / (fan_in + fan_out)) with
//   DeepNorm's gain beta = (2N)^(-1/2) for v, the attention output and both FFN
//   matrices, gain 1 for q and k (DeepNet / GLM-130B).
#include "model/param_table.h"

#include <cstdint>

namespace glm3d {

template <class T>
void init_parameters(const ModelConfig& cfg, const ParamTable& table, int tp_rank, uint64_t seed, T* params);

// The initial value of one element (full-tensor index), for tests and checkpoint tools.
double init_value(const ModelConfig& cfg, const ParamInfo& p, uint64_t seed, int64_t global_index);

} // namespace glm3d
