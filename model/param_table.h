#pragma once
// The size table of one rank's parameters: every tensor's full logical shape, how
// it is split over the tensor-parallel group, and where its local shard lives in
// the rank's one flat parameter buffer (gradients and optimizer state use the same
// offsets). Names follow ChatGLM's, so weight files map one to one.
#include "model/config.h"

#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

// How a [rows, cols] tensor is split over tp ranks.
enum class Split {
  replicated, // every rank holds all of it (LayerNorms, row-parallel biases)
  rows,       // dim 0 in tp contiguous blocks (column-parallel weights/biases, vocab-parallel embedding)
  cols,       // dim 1 in tp contiguous blocks (row-parallel weights)
  glu_rows,   // dim 0 = two halves [a | g], each split in tp blocks; a rank holds [a_r | g_r]
  qkv_packed, // dim 0 = [Q (heads hd) | K (groups hd) | V (groups hd)]: a rank holds its query heads
              // and the key/value groups they use: [Q_r | K_g | V_g]; with tp > groups a group is
              // replicated on tp / groups ranks (Megatron), the first of them its owner
};

// Local rows [local_begin, local_begin + rows) of a tensor split by rows are full-tensor rows
// [global_begin, global_begin + rows).
struct RowSegment {
  int64_t local_begin = 0, rows = 0, global_begin = 0;
};

// uniform: U(-gain, gain) (LoRA's A: gain 1/sqrt(in), PyTorch's Linear defaults).
enum class Init { zeros, ones, normal, xavier, qkv_xavier, uniform };

// Gradients that are a sum of per-rank parts and must be all-reduced before the update:
// LoRA's whole A of a column-parallel weight (over tp), the prefix encoder (over tp and pp).
enum class GradSum { none, tp, model_parallel };

struct ParamInfo {
  std::string name;
  int64_t rows = 0, cols = 1; // full logical shape; vectors have cols == 1
  Split split = Split::replicated;
  int64_t local_rows = 0, local_cols = 1;
  int64_t offset = 0; // into the rank's flat buffer, in elements
  bool weight_decay = false;
  Init init = Init::zeros;
  double gain = 1.0;       // Xavier gain (DeepNorm beta for v, out, FFN); std for Init::normal
  int layer = -1;          // transformer layer, -1 for embedding / final LN
  bool vocab_rows = false; // rows are the padded vocabulary (stored with the real one)
  int64_t heads = 0, groups = 0, head_dim = 0; // qkv_packed: the attention's shape
  bool first_stage_only = false; // a copy on several pipeline stages: written / counted by the first
  GradSum grad_sum = GradSum::none;
  int tp = 1;
  bool tp_replicated() const { return split == Split::replicated; }
  int64_t numel() const { return local_rows * local_cols; }
  int64_t full_numel() const { return rows * cols; }
  // Global (full-tensor, row-major) index of local element i on tensor-parallel rank tp_rank.
  int64_t global_index(int64_t i, int tp_rank) const;
  // Row splits (rows, glu_rows, qkv_packed): where the local rows sit in the full tensor.
  std::vector<RowSegment> row_segments(int tp_rank) const;
  // Local element ranges tensor-parallel rank tp_rank holds as the only (or first) copy: all of
  // a split tensor, all of a replicated one on rank 0 (none elsewhere), and of qkv_packed with
  // replicated key/value groups the query rows only on the non-owners. Checkpoints write, and
  // gradient norms count, exactly these.
  std::vector<std::pair<int64_t, int64_t>> tp_unique_ranges(int tp_rank) const;
  // qkv_packed: local element range of the key/value rows [begin, end) (replicated when tp > groups).
  std::pair<int64_t, int64_t> kv_range() const;
  int kv_share() const { return split == Split::qkv_packed && tp > groups ? int(tp / groups) : 1; }
};

struct StagePlan {
  int tp = 1, tp_rank = 0;
  std::vector<std::pair<int, int>> chunks; // (first_layer, num_layers) per model chunk on this rank
  bool has_embedding = false;              // first pipeline stage (input) or last (tied LM head)
};

struct AdapterSpec;

class ParamTable {
public:
  ParamTable(const ModelConfig& cfg, const StagePlan& plan);
  // The adapters of a fine-tuning run on this rank's share (model/adapters.cpp): LoRA's A and B of
  // the targets of its layers, the prefix encoder (on every rank).
  ParamTable(const ModelConfig& cfg, const StagePlan& plan, const AdapterSpec& spec);
  const std::vector<ParamInfo>& params() const { return params_; }
  const ParamInfo& get(const std::string& name) const;
  const ParamInfo* find(const std::string& name) const;
  int64_t total() const { return total_; } // elements in the flat buffer (padded to 16)
  int64_t padded_vocab() const { return vpad_; }
  // The LM head's matrix: `word_embeddings.weight` when tied, else `output_layer.weight`.
  const char* head_name() const { return tied_ ? "word_embeddings.weight" : "output_layer.weight"; }
  // The same table without the four layer matrices (k_layer_matrices; a QLoRA base holds them in
  // NF4 outside the flat buffer): the other tensors in their order, packed again.
  ParamTable without_layer_matrices() const;
  // The table of a model's flat weight buffer under `nf4_base` (ExecPolicy): all, or without the matrices.
  static ParamTable of_base(const ModelConfig& cfg, const StagePlan& plan, bool nf4_base);
  // Range [begin, end) of layer l's parameters in the flat buffer (layers are contiguous).
  std::pair<int64_t, int64_t> layer_range(int layer) const;

private:
  void add(const std::string& name, int64_t rows, int64_t cols, Split split, bool wd, Init init, double gain,
           int layer, const StagePlan& plan, const ModelConfig* attn = nullptr);
  std::vector<ParamInfo> params_;
  int64_t total_ = 0, vpad_ = 0;
  bool tied_ = true;
};

std::string layer_param_name(int layer, const char* suffix); // "layers.3.attention.dense.weight"

// The four matrices of a layer (query_key_value, dense, dense_h_to_4h, dense_4h_to_h), in this
// order: what weight-only quantization replaces (docs/checkpoint.md, "Quantized weights").
inline constexpr const char* k_layer_matrices[4] = {"attention.query_key_value.weight",
                                                    "attention.dense.weight", "mlp.dense_h_to_4h.weight",
                                                    "mlp.dense_4h_to_h.weight"};
// The index in k_layer_matrices of a parameter name ("layers.N.<matrix>"), -1 for any other name.
int layer_matrix_index(const std::string& name);

} // namespace glm3d
