#pragma once
// The trainer's view of an SFT store (data/sft_store.h), and the sources for --data and
// --eval-data that take either kind of store.
//
//   train: global sample k = example perm_e(k mod n) of the train split, e = k div n, perm_e a
//          keyed bijection of (seed, e) (data/rng.h KeyedPermutation): every epoch visits every
//          example once, in an order fixed by (seed, epoch), the same for any dp size and restart.
//   eval:  sample k = example k of the valid split (k < n), unshuffled.
// Samples are sft_sample(row) (data/sft_example.h) of length seq_len >= the store's seq_len.
#include "data/glm_collator.h"
#include "data/sample.h"

#include <cstdint>
#include <memory>
#include <string>

namespace glm3d {

enum class SftOrder { shuffled, in_order };

// seq_len 0: the store's. UsageError when the split is absent, seq_len is shorter than the
// store's, or expected_tokenizer_sha256 is given and differs from the store's.
std::unique_ptr<SampleSource> open_sft_source(const std::string& dir, const std::string& split,
                                              int64_t seq_len, uint64_t seed, SftOrder order,
                                              const std::string& expected_tokenizer_sha256 = "");

// The store's seq_len (max_source_len + max_target_len).
int64_t sft_store_seq_len(const std::string& dir);

// --data DIR: an SFT store's train split (shuffled) or a token store (blank infilling).
std::unique_ptr<SampleSource> open_training_source(const std::string& dir, int64_t seq_len, uint64_t seed,
                                                   const CollatorOptions& opts,
                                                   const std::string& expected_tokenizer_sha256 = "");

// --eval-data DIR: an SFT store's valid split (in order), or a token store's samples under
// `seed` (the samples `glm3d data sample DIR --seed SEED --start 0` writes).
std::unique_ptr<SampleSource> open_eval_source(const std::string& dir, int64_t seq_len, uint64_t seed,
                                               const std::string& expected_tokenizer_sha256 = "");

// Samples the source can give: the split's examples for an in-order SFT source, -1 (no end) else.
int64_t finite_sample_count(const SampleSource& src);

} // namespace glm3d
