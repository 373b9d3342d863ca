#pragma once
// The sharded HDF5 token store (format: docs/token_store.md).
//
//   DIR/manifest.txt       the shard list with sizes and checksums (plain text)
//   DIR/tokenizer.model    the SentencePiece model the tokens were made with
//   DIR/shard-FFFFF-PPPP.h5  tokens (uint32 [n]) and doc_offsets (uint64 [docs+1]); F = input
//                          file index, P = part within that file
//
// The token stream is the concatenation of the shards in manifest order; every document is
// followed by <eos>. Readers use hyperslab reads of only the rows they need; the datasets are
// chunked with HDF5's Fletcher-32 filter, so every chunk read is checksummed by the library,
// and each shard also carries whole-dataset CRC-32s (zlib.crc32) that `verify` recomputes.
// Every problem with a store is a glm3d::UsageError naming the file.
#include "data/h5_check.h"
#include "data/tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

inline constexpr int64_t k_store_format_version = 1;
inline constexpr const char* k_manifest_name = "manifest.txt";
inline constexpr const char* k_tokenizer_name = "tokenizer.model";
inline constexpr uint64_t k_token_chunk = 16384; // tokens per HDF5 chunk (64 KiB)

struct ShardInfo {
  std::string file; // name inside the store directory
  uint64_t n_tokens = 0, n_docs = 0;
  uint32_t tokens_crc32 = 0, doc_offsets_crc32 = 0;
};

struct Manifest {
  int64_t format_version = k_store_format_version;
  int64_t vocab_size = 0;
  std::string tokenizer_sha256;
  uint64_t total_tokens = 0;
  std::vector<ShardInfo> shards;
};

void write_manifest(const std::string& path, const Manifest& m);
Manifest read_manifest(const std::string& dir); // DIR/manifest.txt; UsageError naming it

// Writes one shard. doc_offsets[d] = first token of document d, doc_offsets.back() == tokens.size().
ShardInfo write_shard(const std::string& dir, const std::string& file, const std::vector<uint32_t>& tokens,
                      const std::vector<uint64_t>& doc_offsets, int64_t vocab_size,
                      const std::string& tokenizer_sha256);

// Read access to a store: opens the manifest, the tokenizer (its sha256 must match the
// manifest) and every shard (attributes must match the manifest); reads any token range.
class TokenStore {
public:
  static TokenStore open(const std::string& dir);
  TokenStore(TokenStore&&) noexcept = default;

  const std::string& dir() const { return dir_; }
  const Manifest& manifest() const { return manifest_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  uint64_t total_tokens() const { return manifest_.total_tokens; }
  int64_t vocab_size() const { return manifest_.vocab_size; }

  // Tokens [start, start + count) of the concatenated stream into out[count], reading only
  // those rows (one hyperslab per shard it spans). UsageError naming the shard when
  // a chunk fails its checksum or a token id is >= vocab_size.
  void read(uint64_t start, uint64_t count, uint32_t* out) const;

private:
  TokenStore(std::string dir, Manifest m, Tokenizer t);
  struct OpenShard {
    std::string path;
    h5::Handle file, tokens;
  };
  std::string dir_;
  Manifest manifest_;
  Tokenizer tokenizer_;
  std::vector<OpenShard> shards_;
  std::vector<uint64_t> starts_; // [shards + 1] first global token of each shard
};

struct VerifyReport {
  uint64_t shards = 0, tokens = 0, docs = 0;
};
// Recomputes every checksum and checks tokens < vocab and the doc_offsets invariants.
VerifyReport verify_store(const std::string& dir);

// Reads the tokenizer identity of a store without opening its shards.
std::string store_tokenizer_sha256(const std::string& dir);

} // namespace glm3d
