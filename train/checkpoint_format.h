#pragma once
// The glm3d checkpoint format (docs/checkpoint.md): one HDF5 file per checkpoint, every
// tensor in its full logical shape, readable with h5py.
//
//   /            attributes: format, format_version, glm3d_version, kind, step, next_sample, ...
//   /config      attributes: the ModelConfig (num_layers, hidden, ...)
//   /special_tokens  attributes (optional, e.g. from an imported ChatGLM): mask, gmask, bos, ...
//   /params/<name>   f32 (bf16 in an export) [rows, cols] or [rows]; attribute `checksum`
//   /adam_m/<name>   f32, same shapes (only when has_optimizer_state)
//   /adam_v/<name>
//
// The word embedding is stored with the real vocabulary rows only ([vocab, hidden]): the
// padded rows of a layout (padded_vocab) never touch the loss and are zero after a load.
//
// This header holds what every reader and writer shares: the metadata, the tensor list of a
// config, how a rank's local shard maps to rectangles of the full tensor, and the checksum.
#include "model/adapters.h"
#include "model/config.h"
#include "model/param_table.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace glm3d {

inline constexpr int64_t k_checkpoint_format_version = 1;
inline constexpr const char* k_checkpoint_format = "glm3d-checkpoint";

struct CheckpointMeta {
  std::string kind = "train"; // train | weights (bf16 export) | import | finetune (adapters only)
  ModelConfig cfg;
  // Training position: `step` optimizer steps done; the next step reads global samples
  // [next_sample, next_sample + global_batch).
  int64_t step = 0, skipped_steps = 0, next_sample = 0, global_batch = 0;
  uint64_t seed = 0; // init and data seed (all randomness is keyed by it)
  double lr_max = 0, lr_min = 0;
  int64_t warmup_steps = 0, decay_steps = 0;
  double beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
  // Optional (checkpoints before 0.2 lack them): -1 when unknown.
  int64_t micro_batch = -1;
  double clip_grad = -1;
  bool has_optimizer_state = false;
  int tp = 1, pp = 1, dp = 1, virtual_stages = 1, zero = 0; // the layout it was written with
  std::string tokenizer_sha256;                             // "" for synthetic data or imports
  std::string glm3d_version = GLM3D_VERSION;
  std::string param_dtype = "f32"; // f32 | bf16
  std::map<std::string, int64_t> special_tokens;
  AdapterSpec adapters; // kind finetune: what the tensors are (LoRA, prefix encoder); the base is elsewhere:
  std::string base_checkpoint; // the --base the adapters were trained on (a resume reads it again)
};

// One stored tensor: its name and stored shape (cols == 1: a vector, stored 1-D).
struct CkptTensor {
  std::string name;
  int64_t rows = 0, cols = 1;
  bool is_vector() const { return cols == 1; }
  int64_t numel() const { return rows * cols; }
  std::vector<int64_t> shape() const {
    return is_vector() ? std::vector<int64_t>{rows} : std::vector{rows, cols};
  }
};

// Every tensor of the model in file order (the single-rank ParamTable's order), the word
// embedding with `vocab` rows.
std::vector<CkptTensor> checkpoint_tensors(const ModelConfig& cfg);
// The tensors a checkpoint holds: the model's, or a fine-tuning run's adapters (kind finetune).
std::vector<CkptTensor> checkpoint_tensors(const CheckpointMeta& meta);

// The tensors a checkpoint stores as float datasets params/<name>: all of them, less the layer
// matrices (model/param_table.h k_layer_matrices) in a `quantized` checkpoint, which stores
// those in their quantized formats (infer/quantized_checkpoint.h).
inline constexpr const char* k_quantized_kind = "quantized";
std::vector<CkptTensor> float_tensors(const CheckpointMeta& meta);

// A rectangle of a full [rows, cols] tensor.
struct Rect {
  int64_t r0 = 0, c0 = 0, nr = 0, nc = 0;
  int64_t numel() const { return nr * nc; }
};

// The rectangles of the full tensor (clipped to stored_rows) that local elements [a, b) of
// p's shard on tensor-parallel rank tp_rank cover, in increasing row-major order. The local
// elements they cover are the prefix [a, a + total) of [a, b): clipping removes only padded
// vocabulary rows, which come last in every shard.
std::vector<Rect> shard_rects(const ParamInfo& p, int tp_rank, int64_t a, int64_t b, int64_t stored_rows);
int64_t rects_numel(const std::vector<Rect>& rects);

// Order-independent checksum of a tensor: the wrapping sum over its elements of
// mix64(index * 0x9E3779B97F4A7C15 + f32 bits), index = row-major index in the stored tensor.
// Pieces summed on different ranks add up to the checksum of the whole. as_bf16: of the values
// rounded to bf16 (nearest even) and widened back, as a bf16 dataset stores them.
uint64_t checksum_rects(const float* data, const std::vector<Rect>& rects, int64_t cols,
                        bool as_bf16 = false);
// The same sum over a whole array of n elements of elem_bytes (1, 2 or 4) each, `bits` the
// element's little-endian bit pattern zero-extended: the checksum of a quantized array (int8,
// uint8 codes, float16 scales, float32 state). For float32 it equals checksum_rects.
uint64_t checksum_bits(const void* data, int64_t n, int elem_bytes);

// The architecture fields a checkpoint must agree on ("" when a and b agree, else the first
// differing field with both values, e.g. "hidden: 64 in the checkpoint, 128 requested").
std::string config_mismatch(const ModelConfig& ckpt, const ModelConfig& want);

} // namespace glm3d
