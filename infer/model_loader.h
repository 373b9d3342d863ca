#pragma once
// Loading a rank's share of a checkpoint for generation, on any tp x pp layout (dp 1): the
// same shards as training (train/checkpoint.h param_piece), the layer matrices one layer at a
// time. A float checkpoint (train, weights, import) keeps its matrices as f32 or rounds them
// to bf16; a quantized one (glm3d ckpt quantize) keeps them quantized, each rank cutting its
// shard out of the whole quantized matrix (train/quantized_shard.h).
#include "infer/inference_model.h"
#include "train/checkpoint_format.h"
#include "train/peft_io.h"

#include <mpi.h>
#include <string>

namespace glm3d {

// The stage plan of a rank: tp and tp_rank, the layers of pipeline stage pp_rank (an even
// split, or pp_layers), the embedding on the first and the last stage.
StagePlan inference_plan(const ModelConfig& cfg, int tp, int tp_rank, int pp, int pp_rank,
                         const std::vector<int>& pp_layers = {});

// Collective over `world` (the ranks of the layout): fills `model` from checkpoint `path`
// (metadata `meta`). float_format (f32 or bf16) applies to a float checkpoint's matrices.
// Every rank throws the same UsageError on a bad or corrupt file.
// lora: adapters merged into the float matrices as they load (W + scaling B A on this rank's
// shard), or nullptr.
void load_inference_weights(InferenceModel& model, const std::string& path, const CheckpointMeta& meta,
                            MPI_Comm world, WeightFormat float_format, const LoraAdapter* lora = nullptr);

} // namespace glm3d
