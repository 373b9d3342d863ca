#pragma once
// Checks made before any parameter is allocated or any step runs, so a run that cannot finish
// fails in its first second, on every rank, with one line, instead of after hours of work:
//   - every output path can be written (--save is a directory or can be made one, --metrics
//     can be opened);
//   - the rank's estimated bytes fit in what its node offers (MemAvailable, or the cgroup's
//     limit under Slurm or a container), shared by the ranks on that node.
#include "model/memory_model.h"
#include "train/train_options.h"

#include <cstdint>
#include <mpi.h>

namespace glm3d {

// Collective over world: UsageError on every rank when --save or --metrics cannot be written.
void check_output_paths(const TrainOptions& opt, bool resuming, MPI_Comm world);

// Bytes this process may use: min(MemAvailable, cgroup limit - usage) / ranks on this node.
// GLM3D_MEMORY_AVAILABLE (bytes, for tests) replaces the machine's figure.
int64_t available_bytes_per_rank(MPI_Comm world);

// Collective over world: UsageError on every rank when the largest need exceeds the smallest
// share, naming both and what to try.
void check_memory_fits(const RankMemory& need, MPI_Comm world);

} // namespace glm3d
