#include "data/store_stats.h"

#include "data/token_store.h"

#include <algorithm>
#include <cmath>

namespace glm3d {

double unigram_entropy(const std::vector<uint64_t>& counts) {
  uint64_t n = 0;
  for (uint64_t c : counts)
    n += c;
  if (n == 0)
    return 0;
  // H = ln N - (1/N) sum_v c_v ln c_v: one log per id, no per-id division.
  double s = 0;
  for (uint64_t c : counts)
    if (c > 0)
      s += double(c) * std::log(double(c));
  return std::log(double(n)) - s / double(n);
}

StoreStats store_stats(const std::string& dir) {
  const TokenStore store = TokenStore::open(dir);
  StoreStats st;
  st.tokens = store.total_tokens();
  st.shards = store.manifest().shards.size();
  st.vocab_size = store.vocab_size();
  for (const ShardInfo& s : store.manifest().shards)
    st.documents += s.n_docs;
  std::vector<uint64_t> counts(size_t(st.vocab_size), 0);
  constexpr uint64_t k_block = uint64_t(1) << 20; // tokens per read (4 MiB)
  std::vector<uint32_t> buf(size_t(std::min<uint64_t>(k_block, st.tokens)));
  for (uint64_t start = 0; start < st.tokens; start += k_block) {
    const uint64_t n = std::min(k_block, st.tokens - start);
    store.read(start, n, buf.data()); // ids are checked < vocab_size by the reader
    for (uint64_t i = 0; i < n; ++i)
      ++counts[buf[i]];
  }
  st.vocab_used = std::count_if(counts.begin(), counts.end(), [](uint64_t c) { return c > 0; });
  st.unigram_entropy = unigram_entropy(counts);
  return st;
}

} // namespace glm3d
