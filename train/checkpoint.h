#pragma once
// Checkpoints of a running job: which pieces of the full tensors this rank holds (its tensor-
// and pipeline-parallel share, its ZeRO-1 range of the optimizer state), and the collective
// save into / load from a checkpoint directory (train/checkpoint_dir.h).
//
// Each element of the model is written by exactly one rank: tp-replicated tensors by tp rank
// 0, the tied embedding by the first pipeline stage, parameters by dp rank 0, optimizer state
// by dp rank 0 (or by every dp rank for its own ZeRO-1 range). Any layout reads any checkpoint:
// each rank reads the hyperslabs of its own share.
#include "model/param_table.h"
#include "train/checkpoint_io.h"

#include <mpi.h>
#include <string>
#include <vector>

namespace glm3d {

// Where this rank's share of the model and optimizer state lives.
struct ShardView {
  const ParamTable* table = nullptr;
  int tp_rank = 0;
  bool first_stage = true; // holds the written copy of the tied embedding
  int dp_rank = 0;
  bool zero = false;                  // weights and optimizer state sharded over dp (ZeRO-1)
  int64_t opt_begin = 0, opt_end = 0; // the optimizer's range of the flat buffer
};

// The pieces of this rank's share of [opt_begin, opt_end) of the flat buffer: master holds the
// f32 weights of that range (the optimizer's master, or the model's whole f32 buffer with the
// range [0, total)); m, v the optimizer state of the same range (nullptr: weights only).
std::vector<TensorPiece> shard_pieces(const ShardView& view, const ModelConfig& cfg, float* master, float* m,
                                      float* v);

// The pieces of tensor p's local elements [a, b) on this rank (its share of `view`), read into or
// written from `data` (element a); each counted by the one rank that writes it (a range crossing
// tp-replicated key/value rows is cut into several pieces).
std::vector<TensorPiece> param_pieces(const ShardView& view, const ModelConfig& cfg, const ParamInfo& p,
                                      int64_t a, int64_t b, float* data);

// Collective over comm: writes DIR/step_N.h5 through a temp file, then `latest` (rank 0), then
// prunes to the `keep` newest. Returns the checkpoint's path.
std::string save_checkpoint(const std::string& dir, int64_t keep, MPI_Comm comm, const CheckpointMeta& meta,
                            const std::vector<TensorPiece>& pieces);

// Collective over comm: fills the pieces (padded vocabulary rows and anything not in the
// file are left as the caller set them, normally zero). Checks the checksum of every tensor
// read, or adds the sums to `tally` (a load in parts).
void load_checkpoint(const std::string& path, MPI_Comm comm, const CheckpointMeta& meta,
                     std::vector<TensorPiece>& pieces, ChecksumTally* tally = nullptr);

} // namespace glm3d
