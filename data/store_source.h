#pragma once
// The trainer's view of a token store: open_store_source() returns a SampleSource whose global
// sample k is collate(window(k)) with randomness keyed by (seed, k) only, so it is the same for
// any data-parallel size and across restarts; the sampler state a checkpoint needs is just the
// next global sample index (owned by the trainer).
//
//   auto src = open_store_source(dir, cfg.seq_len, cfg.seed, CollatorOptions{}, ckpt_tokenizer_hash);
//   src->will_need(ks_for_this_rank);   // prefetched on a background thread
//   for (int64_t k : ks_for_this_rank) Sample s = src->get(k);
#include "data/glm_collator.h"
#include "data/sample.h"
#include "data/tokenizer.h"

#include <cstdint>
#include <memory>
#include <string>

namespace glm3d {

// Opens the store in `dir` (manifest, tokenizer, every shard's attributes). Samples have
// length seq_len. When expected_tokenizer_sha256 is not empty (e.g. from a checkpoint), a store
// made with another tokenizer is a UsageError naming both. Reads only the rows each sample
// needs (HDF5 hyperslabs, chunk checksums verified by HDF5); bad data is a UsageError naming
// the shard, rethrown by get().
std::unique_ptr<SampleSource> open_store_source(const std::string& dir, int64_t seq_len, uint64_t seed,
                                                const CollatorOptions& opts,
                                                const std::string& expected_tokenizer_sha256 = "");

// Special token ids of the tokenizer saved with the store in `dir`.
SpecialTokens store_special_tokens(const std::string& dir);

// UsageError unless the store in `dir` was made with the tokenizer whose sha256 is `expected`
// (the message names the store, its tokenizer hash and the expected one, e.g. a checkpoint's).
void check_store_tokenizer(const std::string& dir, const std::string& expected);

} // namespace glm3d
