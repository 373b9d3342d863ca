#pragma once
// QLoRA's base matrices (model/qlora_base.h) of this rank's layers, from the fine-tuning run's
// base checkpoint:
//   float checkpoint   each matrix read whole, one at a time, quantized to NF4 with double
//                      quantization exactly as `glm3d ckpt quantize --bits nf4` does (blocks of
//                      64 in stored row-major order), and this rank's shard cut from it;
//   quantized (nf4)    the stored NF4 matrix read directly, and the shard cut from it.
// Every layout so holds the same codes. A shard that does not hold whole NF4 blocks is a
// UsageError on every rank (the layout), as is a quantized checkpoint in another format.
#include "model/glm_model.h"
#include "train/checkpoint_format.h"

#include <mpi.h>
#include <string>

namespace glm3d {

// Collective over world (every rank makes as many reads as the rank with the most layers).
// counted: this rank's reads enter the checkpoints' checksum verification (one replica of each
// stage: tp rank 0, dp rank 0).
void load_nf4_base(GlmModel<float>& model, const std::string& path, const CheckpointMeta& meta,
                   MPI_Comm world, bool counted);

} // namespace glm3d
