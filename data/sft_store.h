#pragma once
// The HDF5 SFT store written by `glm3d prep sft` (format: docs/sft_store.md):
//
//   DIR/sft_manifest.json   format, tokenizer identity, lengths, splits with example counts and
//                           the CRC-32 of every dataset
//   DIR/train.h5, valid.h5  one file per split (valid only with --valid-fraction > 0 and a
//                           record drawn for it): per example, rows of S = max_source_len +
//                           max_target_len tokens as data/sft_example.h lays them out
//   DIR/<tokenizer files>   tokenizer.model (glm3d) or ice_text.model + tokenizer_config.json
//
// Split datasets: input_ids, labels, position_ids, block_position_ids int32 [n, S]; sep,
// mask_position, length, source_file int32 [n]; source_line int64 [n]. Chunked, deflate and
// Fletcher-32 (every chunk read is checked by HDF5), each dataset's CRC-32 (zlib.crc32 of its
// little-endian bytes) in its attribute crc32 and in the manifest. Every problem with a store is
// a UsageError naming the file.
#include "data/sft_example.h"
#include "data/text_tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace glm3d {

inline constexpr int64_t k_sft_format_version = 1; // glm layout (ChatGLM-6B); causal layouts write 2
inline constexpr int64_t k_sft_causal_format_version = 2;
inline constexpr const char* k_sft_manifest_name = "sft_manifest.json";

struct SftSplitInfo {
  std::string name, file;
  int64_t examples = 0;
  std::map<std::string, uint32_t> crc32; // dataset -> zlib.crc32 of its bytes
};

struct SftManifest {
  int64_t format_version = k_sft_format_version;
  // "glm" (data/sft_example.h, seq_len = max_source_len + max_target_len) or "causal"
  // (data/sft_causal.h, seq_len = max_source_len + max_target_len + 1; format_version 2)
  std::string layout = "glm";
  bool causal() const { return layout == "causal"; }
  int64_t vocab_size = 0, max_source_len = 0, max_target_len = 0, seq_len = 0;
  std::string tokenizer_kind, tokenizer_sha256;
  std::vector<std::string> tokenizer_files;
  SpecialTokens special;
  nlohmann::json prep = nlohmann::json::object(); // how it was made: inputs, keys, split, skipped lines
  std::vector<SftSplitInfo> splits;
  const SftSplitInfo* split(const std::string& name) const; // nullptr when absent
};

// True when dir holds an SFT store's manifest.
bool is_sft_store(const std::string& dir);

void write_sft_manifest(const std::string& dir, const SftManifest& m);
SftManifest read_sft_manifest(const std::string& dir); // UsageError naming the file

// Writes split `name` (file NAME.h5 in dir) of n examples; row_of(i) gives example i (rows of S
// tokens). Rows are built and written in blocks, so a split never sits in memory whole.
SftSplitInfo write_sft_split(const std::string& dir, const std::string& name, int64_t n, int64_t S,
                             const std::function<SftRow(int64_t)>& row_of, const SftManifest& m);

struct SftVerifyReport {
  int64_t splits = 0, examples = 0;
};
// Recomputes every CRC-32 and checks the layout of every row (ids < vocab, labels, positions).
SftVerifyReport verify_sft_store(const std::string& dir);

class SftStore {
public:
  // Manifest, tokenizer (its sha256 must match the manifest) and every split file (attributes
  // must match the manifest).
  static SftStore open(const std::string& dir);
  SftStore(SftStore&&) noexcept;
  ~SftStore();

  const std::string& dir() const { return dir_; }
  const SftManifest& manifest() const { return m_; }
  const TextTokenizer& tokenizer() const { return *tokenizer_; }
  bool has_split(const std::string& name) const { return m_.split(name) != nullptr; }
  int64_t examples(const std::string& split) const; // UsageError naming the store if absent
  // Example i of the split (hyperslab reads of its rows; UsageError naming the file on a bad chunk).
  SftRow read(const std::string& split, int64_t i) const;

private:
  friend SftVerifyReport verify_sft_store(const std::string& dir);
  SftStore() = default;
  struct Split;
  const Split& split_of(const std::string& name) const;
  std::string dir_;
  SftManifest m_;
  std::unique_ptr<TextTokenizer> tokenizer_;
  std::vector<std::unique_ptr<Split>> splits_;
};

} // namespace glm3d
