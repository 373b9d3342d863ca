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

// Order-sensitive 64-bit hash of n bytes.
uint64_t hash_bytes(const void* data, size_t n);

// Collective over pg.world. weights: the compute weights of the table's flat buffer, `elem`
// bytes each (f32 or bf16). Throws Error on every rank, with the same message: the step, the
// group and the world ranks of the first two members that differ.
// tied: the word embedding has a copy on the last stage; kv_share: the group of ranks holding the
// same key/value rows (tp > groups), or null.
void check_replicas(const ParamTable& table, const void* weights, size_t elem, ProcessGroups& pg,
                    int64_t step, bool tied = true, Communicator* kv_share = nullptr);

} // namespace glm3d
