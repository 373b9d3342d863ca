#pragma once
// What a token store holds, for `glm3d data stats`: its size and its unigram entropy, the loss
// of the best model that ignores context (predicting every token with the store's own token
// frequencies). A language model has learned something about context once its loss is below it.
#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

struct StoreStats {
  uint64_t tokens = 0, documents = 0, shards = 0;
  int64_t vocab_size = 0;     // the tokenizer's
  int64_t vocab_used = 0;     // ids that occur at least once
  double unigram_entropy = 0; // -sum_v p_v ln p_v over the store's token frequencies, nats
};

// -sum_v (c_v / N) ln (c_v / N) over the nonzero counts, N = sum_v c_v; 0 for no tokens.
double unigram_entropy(const std::vector<uint64_t>& counts);

// Reads every token of the store at DIR (TokenStore: checksummed chunks; UsageError naming
// what is wrong) and counts them.
StoreStats store_stats(const std::string& dir);

} // namespace glm3d
