#pragma once
// Parallel reading and writing of one checkpoint file (train/checkpoint_format.h) with
// parallel HDF5 over MPI-IO: every rank of `comm` opens the file, the metadata (attributes,
// dataset creation) is written collectively with identical values, and each rank transfers
// only its own pieces (independent hyperslab transfers).
#include "train/checkpoint_format.h"
#include "train/checkpoint_h5.h" // read_checkpoint_meta

#include <cstdint>
#include <map>
#include <mpi.h>
#include <string>
#include <vector>

namespace glm3d {

// Part of one stored tensor that this rank writes or reads: `data` holds rects_numel(rects)
// elements in the rectangles' row-major order. `counts` marks the pieces that enter the
// checksum: over all ranks, every element of a tensor is counted exactly once.
struct TensorPiece {
  std::string group; // params | adam_m | adam_v
  std::string name;
  float* data = nullptr;
  std::vector<Rect> rects;
  bool counts = true;
};

// Collective over comm. Writes `path` (overwriting it); only pieces with counts == true are
// written (they tile every tensor exactly once over the ranks). Adam groups are written when
// meta.has_optimizer_state; params in bf16 when meta.param_dtype == "bf16".
// Test hook: with GLM3D_TEST_CRASH_IN_SAVE=N, rank 0 raises SIGKILL halfway through the data of
// the checkpoint of step N.
void write_checkpoint_file(const std::string& path, MPI_Comm comm, const CheckpointMeta& meta,
                           const std::vector<TensorPiece>& pieces);

// The checksums of a load made in several calls that may each hold only part of a tensor
// (load_frozen_base reads the base through a bounded staging buffer): every call adds the sums
// of its pieces per tensor, and verify() checks each tensor read once all calls are done.
class ChecksumTally {
public:
  void add(const std::string& tensor, uint64_t stored, uint64_t data) {
    Sum& s = sums_[tensor];
    s.stored = stored;
    s.data += data; // additive over pieces (checksum_rects), wrapping like the stored sum
  }
  // UsageError naming the file and the first tensor whose pieces do not add up to its checksum.
  void verify(const std::string& path) const;

private:
  struct Sum {
    uint64_t stored = 0, data = 0;
  };
  std::map<std::string, Sum> sums_;
};

// Collective over comm. Fills every piece from `path` after checking that every float tensor of
// the config (float_tensors) exists with its stored shape, then verifies the checksum of each
// tensor some rank read, over the counted pieces (a load may read a model in several calls).
// Every rank throws the same UsageError (naming file and tensor) on a bad file; a piece of a
// layer matrix of a quantized checkpoint is a UsageError too.
// With a tally, the sums of this call are added to it instead, for a load whose calls cut
// tensors in parts (ChecksumTally).
void read_checkpoint_file(const std::string& path, MPI_Comm comm, const CheckpointMeta& meta,
                          std::vector<TensorPiece>& pieces, ChecksumTally* tally = nullptr);

} // namespace glm3d
