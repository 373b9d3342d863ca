#pragma once
// ParallelDims: the tensor x pipeline x data parallel layout, validated once and
// passed explicitly. Rank order as Megatron: tp fastest, then dp, then pp:
//   rank = tp_rank + tp * dp_rank + tp * dp * pp_rank
#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

struct ParallelDims {
  int world = 1;
  int tp = 1, pp = 1, dp = 1;
  int virtual_stages = 1; // model chunks per pipeline rank (interleaved schedule)

  // Builds and validates; dp <= 0 means "infer from world". Throws UsageError with
  // every degree and the world size in the message when the layout is impossible.
  static ParallelDims make(int world, int tp, int pp, int dp, int virtual_stages = 1);

  int tp_rank(int rank) const { return rank % tp; }
  int dp_rank(int rank) const { return (rank / tp) % dp; }
  int pp_rank(int rank) const { return rank / (tp * dp); }
  int rank_of(int tp_r, int dp_r, int pp_r) const { return tp_r + tp * dp_r + tp * dp * pp_r; }

  // World ranks of the groups that `rank` belongs to (in group-rank order).
  std::vector<int> tp_group(int rank) const;
  std::vector<int> dp_group(int rank) const;
  std::vector<int> pp_group(int rank) const;
  std::vector<int> model_parallel_group(int rank) const; // same dp_rank: all tp x pp ranks
  std::vector<int> embedding_group(int rank) const;      // first and last pp stage (one rank if pp == 1)

  std::string str() const; // "tp=2 pp=2 dp=2 (world 8)"
};

// The model-dependent checks, called once the model numbers are known: heads and FFN size
// divisible by tp, layers split over pp stages x virtual stages (evenly, or by an explicit
// per-stage list `pp_layers`, empty = even). Throws one UsageError naming every degree, the
// world size and the offending model number.
void validate_for_model(const ParallelDims& dims, int64_t num_layers, int64_t num_heads, int64_t ffn_hidden,
                        const std::vector<int>& pp_layers);

// Why `num_layers` cannot be split over pp stages x virtual_stages chunks ("" when it can).
// An explicit `pp_layers` list needs pp entries, each a positive multiple of virtual_stages,
// summing to num_layers. Shared by validate_for_model and pipeline/partition.
std::string layer_split_problem(int64_t num_layers, int pp, int virtual_stages,
                                const std::vector<int>& pp_layers);

// The vocabulary rounded up to a multiple of tp*128, so every tp rank holds an equal,
// aligned slice. The model must keep the padded logits out of the loss (-inf before softmax).
int64_t padded_vocab(int64_t vocab, int tp);

} // namespace glm3d
