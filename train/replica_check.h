#pragma once
// Replica agreement (Megatron's --check-weight-hash-across-dp-replicas-interval): the copies
// of a parameter that several ranks hold must stay bitwise equal — every parameter across the
// data-parallel group, the tp-replicated tensors (LayerNorms, row-parallel biases) across the
// tensor-parallel group, the tied word embedding across the first and last pipeline stage
// (the embedding group). A silent divergence (a bad reduction, a flipped bit, a rank that
// skipped an update) is caught at the next check instead of corrupting the run unseen.
#include "model/param_table.h"
#include "parallel/process_groups.h"

#include <cstdint>

namespace glm3d {

// Order-sensitive 64-bit hash of the bits of params[begin, end).
uint64_t hash_floats(const float* params, int64_t begin, int64_t end);

// Collective over pg.world. Throws Error on every rank, with the same message: the step, the
// group and the world ranks of the first two members that differ.
void check_replicas(const ParamTable& table, const float* params, ProcessGroups& pg, int64_t step);

} // namespace glm3d
