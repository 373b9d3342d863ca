#pragma once
// Stage partition: which transformer layers each pipeline rank holds.
//
// The layers are split over pp * virtual_stages "virtual stages" in order. Model chunk c
// on pipeline rank r is virtual stage c * pp + r (Megatron's interleaving), so the
// activations flow rank 0 chunk 0 -> rank 1 chunk 0 -> ... -> rank pp-1 chunk 0 ->
// rank 0 chunk 1 -> ... -> rank pp-1 chunk V-1 (the loss).
//
// Even split: num_layers / (pp * V) layers per virtual stage (UsageError if not divisible).
// Explicit list (`--pp-layers 8,9,9,9,9,9,9,8`): pp entries summing to num_layers; rank r
// holds pp_layers[r] layers, pp_layers[r] / V in each of its chunks.
#include <string>
#include <vector>

namespace glm3d {

struct StageLayers {
  int first_layer = 0;
  int num_layers = 0;
  bool operator==(const StageLayers&) const = default;
};

// The V chunks of `pp_rank`, in chunk order. pp_layers empty = even split.
std::vector<StageLayers> chunks_of_rank(int num_layers, int pp, int pp_rank, int virtual_stages,
                                        const std::vector<int>& pp_layers);

inline int virtual_stage_of(int pp, int pp_rank, int chunk) {
  return chunk * pp + pp_rank;
}
// The first virtual stage reads the batch (embedding); the last computes the loss.
inline bool is_first_stage(int pp_rank, int chunk) {
  return pp_rank == 0 && chunk == 0;
}
inline bool is_last_stage(int pp, int pp_rank, int chunk, int virtual_stages) {
  return pp_rank == pp - 1 && chunk == virtual_stages - 1;
}

// "8,9,9,8" -> {8, 9, 9, 8}; "" -> {} (even split). UsageError on anything else.
std::vector<int> parse_pp_layers(const std::string& text);

} // namespace glm3d
