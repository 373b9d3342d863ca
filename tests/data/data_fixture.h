#pragma once
// Shared helpers for the data tests: a deterministic bilingual corpus, a small tokenizer
// trained once per process, temp dirs and hand-made stores.
#include "data/token_store.h"
#include "data/tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace glm3d::test {

// A fresh empty directory under /tmp (removed at process exit).
std::string temp_dir(const std::string& tag);

// n documents of English and Chinese sentences (". " / "。" endings), deterministic in seed.
std::vector<std::string> bilingual_docs(int n, uint64_t seed);

// Writes docs as plain text (blank line between documents) or JSONL {"text": ...}.
void write_text_file(const std::string& path, const std::vector<std::string>& docs);
void write_jsonl_file(const std::string& path, const std::vector<std::string>& docs);
void write_bytes(const std::string& path, const std::string& bytes);
// One gzip member holding `bytes` (zlib deflate with the gzip wrapper).
std::string gzip(const std::string& bytes);
std::string read_bytes(const std::string& path);

// A 400-piece tokenizer trained on bilingual_docs(300, 1), written to a file once per process.
const std::string& tokenizer_path();
const Tokenizer& tokenizer();

// A store whose shards hold exactly `shards` (token ids as given, one document per shard),
// with the fixture tokenizer. Returns dir.
std::string make_manual_store(const std::string& dir, const std::vector<std::vector<uint32_t>>& shards);

} // namespace glm3d::test
