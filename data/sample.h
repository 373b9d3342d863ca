#pragma once
// One collated training sample and the interface the trainer reads samples through.
#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

// A GLM sample of fixed length S (row-major [S] each). Part A = positions [0, sep),
// Part B = [sep, S). Positions past the real content are <pad> with loss_mask 0.
struct Sample {
  std::vector<int32_t> tokens;             // input ids
  std::vector<int32_t> position_ids;       // 2D RoPE first half / 1D RoPE
  std::vector<int32_t> block_position_ids; // 0 in Part A, 1..len inside each Part B span
  std::vector<int32_t> targets;            // label at each position (ignored where loss_mask == 0)
  std::vector<uint8_t> loss_mask;          // 1 on Part B target positions only
  int32_t sep = 0;                         // Part A length
  int kind = 0;                            // 0 [MASK], 1 [gMASK], 2 [sMASK], -1 synthetic
};

// Where training samples come from. Global sample k (counted over all epochs from
// the start of training) must be a pure function of (source contents, seed, k):
// independent of the data-parallel size and of restarts.
class SampleSource {
public:
  virtual ~SampleSource() = default;
  virtual int64_t seq_len() const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual Sample get(int64_t k) = 0;
  // Hint: this rank will ask for these global indices next, in this order.
  virtual void will_need(const std::vector<int64_t>& ks) { (void)ks; }
  // Tokenizer identity the samples were made with ("" for synthetic data).
  virtual std::string tokenizer_hash() const { return ""; }
};

} // namespace glm3d
