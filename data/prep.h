#pragma once
// `glm3d prep`: raw text / JSONL -> (trained or given) tokenizer -> sharded HDF5 token store.
// Parallel over the ranks of `comm`: input file i is read, tokenized and written by rank
// i % size, as shards named after the file index, so the store is the same for any number of
// ranks. Everything is written into DIR.tmp-<pid> and renamed to DIR only when every rank
// succeeded; any failure on any rank ends every rank with the same error (nothing half-written).
// --overwrite replaces only a token store, swapped out once the new one is complete
// (data/prep_output.h).
#include "data/text_input.h"
#include "data/tokenizer.h"

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace glm3d {

struct PrepOptions {
  std::vector<std::string> inputs;
  std::string out_dir;
  uint64_t shard_tokens = uint64_t(1) << 24; // a shard closes at the first document end past this
  InputFormat format = InputFormat::auto_detect;
  std::string json_field = "text";
  std::string tokenizer_path;   // use this tokenizer ...
  bool train_tokenizer = false; // ... or train one on all inputs (on rank 0)
  TokenizerTrainOptions train;
  bool overwrite = false; // replace an existing token store at DIR
  // Held-out documents: document d of input file i goes to the token store DIR/valid when
  // KeyedRng(split_seed, i, d).uniform() < valid_fraction (for --eval-data DIR/valid).
  double valid_fraction = 0;
  uint64_t split_seed = 1234;
};

inline constexpr const char* k_valid_store_name = "valid"; // DIR/valid

struct PrepResult {
  uint64_t files = 0, docs = 0, tokens = 0, shards = 0;
  uint64_t valid_docs = 0, valid_tokens = 0, valid_shards = 0; // DIR/valid
  int64_t vocab_size = 0;
  std::string tokenizer_sha256;
};

PrepResult run_prep(const PrepOptions& opts, MPI_Comm comm);

} // namespace glm3d
