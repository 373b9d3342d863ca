#pragma once
// `glm3d prep sft`: prompt/answer or conversation JSONL -> tokenizer (glm3d's, ChatGLM-6B's,
// ChatGLM2/3's) -> HDF5 SFT store (data/sft_store.h, docs/sft_store.md), examples laid out as
// ChatGLM-6B's P-tuning code does (data/sft_example.h) or ChatGLM2/3's (data/sft_causal.h). Rank 0 does the
// work (the tokenization spread over its cores); every rank ends with the same result or the same error. The
// store is written into DIR.tmp-<pid> and put at DIR only when complete; --overwrite replaces only an SFT
// store (data/prep_output.h).
//
// Split: a record goes to `valid` when KeyedRng(split_seed, input file index, line).uniform() <
// valid_fraction, so the split of a line depends only on (seed, file, line), never on the other
// lines or on which were skipped.
#include "data/sft_input.h"

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

struct SftPrepOptions {
  std::vector<std::string> inputs;
  std::string out_dir, tokenizer_path; // tokenizer: see load_text_tokenizer
  std::string tokenizer_kind;          // "" = from the path; else settles (and must match) it
  std::string format;                  // "" = the tokenizer's (SftFormat: chatglm, chatglm2, chatglm3)
  SftKeys keys;
  int64_t max_source_len = 64, max_target_len = 64;
  double valid_fraction = 0;
  uint64_t split_seed = 1234;
  int64_t skip_bad = 0; // bad lines allowed (skipped, counted, reported); more: UsageError
  bool overwrite = false;
};

struct SftPrepResult {
  int64_t files = 0, records = 0, train = 0, valid = 0;
  int64_t prompts_truncated = 0, answers_truncated = 0, conversations_truncated = 0;
  std::string format;
  std::vector<std::string> skipped; // "input file F line N: reason" of each skipped line
  int64_t seq_len = 0, vocab_size = 0;
  std::string tokenizer_kind, tokenizer_sha256;
};

SftPrepResult run_prep_sft(const SftPrepOptions& opts, MPI_Comm comm);

} // namespace glm3d
