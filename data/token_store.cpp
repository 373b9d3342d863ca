#include "data/token_store.h"

#include "data/checksum.h"
#include "data/h5_attr.h"
#include "data/h5_extent.h"
#include "data/h5_format.h"
#include "data/h5_object_header.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace glm3d {

namespace fs = std::filesystem;

namespace {
h5::Handle create_checked_dataset(hid_t file, const char* name, hid_t type, uint64_t n, uint64_t chunk) {
  const hsize_t dims[1] = {n};
  h5::Handle space(H5_CHECK(H5Screate_simple(1, dims, nullptr)), H5Sclose);
  h5::Handle dcpl(H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)), H5Pclose);
  const hsize_t cdims[1] = {std::max<uint64_t>(1, std::min(n, chunk))};
  H5_CHECK(H5Pset_chunk(dcpl.get(), 1, cdims));
  // Fletcher-32 per chunk: HDF5 verifies it on every read, so a reader that touches only a
  // few rows still detects corruption in what it reads.
  H5_CHECK(H5Pset_fletcher32(dcpl.get()));
  return h5::Handle(H5_CHECK(H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT)),
                    H5Dclose);
}

h5::Handle open_shard_file(const std::string& path) {
  GLM3D_USAGE_CHECK(fs::exists(path)) << "token store shard " << path << " is missing";
  try {
    return h5::open_untrusted(path);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "token store shard " << path
                       << " cannot be opened (not HDF5, truncated or unreadable): " << e.what();
  } catch (const UsageError& e) { // the header checks (data/h5_object_header.h)
    GLM3D_USAGE_FAIL() << "token store shard " << path << " is damaged: " << e.what();
  }
}

// Rows of a 1-D dataset its file can hold (h5_extent.h); UsageError naming it otherwise.
uint64_t dataset_length(hid_t dset, const std::string& what) {
  return h5::dataset_extent(dset, 1, 1, what)[0];
}

// Reads rows [start, start + count) of a 1-D dataset with one hyperslab read.
void read_rows(hid_t dset, hid_t mem_type, uint64_t start, uint64_t count, void* out) {
  auto lock = h5::library_lock(); // one consistent sequence of calls
  h5::Handle fspace(H5_CHECK(H5Dget_space(dset)), H5Sclose);
  const hsize_t off[1] = {start}, cnt[1] = {count};
  H5_CHECK(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, off, nullptr, cnt, nullptr));
  h5::Handle mspace(H5_CHECK(H5Screate_simple(1, cnt, nullptr)), H5Sclose);
  H5_CHECK(H5Dread(dset, mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, out));
}

void check_vocab(const uint32_t* t, uint64_t n, int64_t vocab, const std::string& path, uint64_t first) {
  for (uint64_t i = 0; i < n; ++i)
    GLM3D_USAGE_CHECK(int64_t(t[i]) < vocab) << "token store shard " << path << ": token id " << t[i]
                                             << " at row " << first + i << " is >= vocab size " << vocab;
}
} // namespace

// ------------------------------------------------------------------------------------ manifest

void write_manifest(const std::string& path, const Manifest& m) {
  std::ofstream out(path);
  GLM3D_USAGE_CHECK(out.good()) << "cannot write manifest " << path;
  out << "# glm3d token store manifest (format in docs/token_store.md)\n";
  out << "format_version " << m.format_version << "\n";
  out << "vocab_size " << m.vocab_size << "\n";
  out << "tokenizer " << k_tokenizer_name << "\n";
  out << "tokenizer_sha256 " << m.tokenizer_sha256 << "\n";
  out << "total_tokens " << m.total_tokens << "\n";
  out << "shard_count " << m.shards.size() << "\n";
  out << "# shard FILE N_TOKENS N_DOCS TOKENS_CRC32 DOC_OFFSETS_CRC32\n";
  for (const ShardInfo& s : m.shards)
    out << "shard " << s.file << " " << s.n_tokens << " " << s.n_docs << " " << crc32_hex(s.tokens_crc32)
        << " " << crc32_hex(s.doc_offsets_crc32) << "\n";
  out.close();
  GLM3D_USAGE_CHECK(out.good()) << "cannot write manifest " << path;
}

Manifest read_manifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / k_manifest_name).string();
  GLM3D_USAGE_CHECK(fs::is_directory(dir)) << "token store " << dir << " is not a directory";
  std::ifstream in(path);
  GLM3D_USAGE_CHECK(in.good()) << "token store manifest " << path << " is missing or unreadable";
  Manifest m;
  m.format_version = -1;
  int64_t shard_count = -1;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream ls(line);
    std::string key;
    ls >> key;
    bool ok = true;
    if (key == "format_version")
      ok = bool(ls >> m.format_version);
    else if (key == "vocab_size")
      ok = bool(ls >> m.vocab_size);
    else if (key == "tokenizer") {
      std::string name;
      ok = bool(ls >> name) && name == k_tokenizer_name;
    } else if (key == "tokenizer_sha256")
      ok = bool(ls >> m.tokenizer_sha256) && m.tokenizer_sha256.size() == 64;
    else if (key == "total_tokens")
      ok = bool(ls >> m.total_tokens);
    else if (key == "shard_count")
      ok = bool(ls >> shard_count);
    else if (key == "shard") {
      ShardInfo s;
      std::string c1, c2;
      ok = bool(ls >> s.file >> s.n_tokens >> s.n_docs >> c1 >> c2);
      if (ok) {
        try {
          s.tokens_crc32 = uint32_t(std::stoul(c1, nullptr, 16));
          s.doc_offsets_crc32 = uint32_t(std::stoul(c2, nullptr, 16));
        } catch (const std::exception&) {
          ok = false;
        }
      }
      ok = ok && s.file.find('/') == std::string::npos;
      m.shards.push_back(s);
    } else
      ok = false;
    GLM3D_USAGE_CHECK(ok) << "token store manifest " << path << " line " << line_no << " is malformed: '"
                          << line << "'";
  }
  GLM3D_USAGE_CHECK(m.format_version == k_store_format_version)
      << "token store manifest " << path << " has format_version " << m.format_version << ", expected "
      << k_store_format_version;
  GLM3D_USAGE_CHECK(shard_count >= 1 && size_t(shard_count) == m.shards.size())
      << "token store manifest " << path << " lists " << m.shards.size() << " shards but shard_count is "
      << shard_count;
  uint64_t sum = 0;
  bool wrapped = false; // n_tokens are read from the file: a sum past 2^64 would wrap around
  for (const ShardInfo& s : m.shards)
    wrapped |= __builtin_add_overflow(sum, s.n_tokens, &sum);
  GLM3D_USAGE_CHECK(!wrapped && sum == m.total_tokens && m.vocab_size > 0 && !m.tokenizer_sha256.empty())
      << "token store manifest " << path << " is inconsistent (total_tokens " << m.total_tokens
      << ", shards sum to " << sum << ", vocab_size " << m.vocab_size << ")";
  return m;
}

std::string store_tokenizer_sha256(const std::string& dir) {
  return read_manifest(dir).tokenizer_sha256;
}

// ------------------------------------------------------------------------------------ writer

ShardInfo write_shard(const std::string& dir, const std::string& file, const std::vector<uint32_t>& tokens,
                      const std::vector<uint64_t>& doc_offsets, int64_t vocab_size,
                      const std::string& tokenizer_sha256) {
  GLM3D_CHECK(!tokens.empty() && doc_offsets.size() >= 2 && doc_offsets.front() == 0 &&
              doc_offsets.back() == tokens.size())
      << "bad shard contents for " << file;
  ShardInfo info;
  info.file = file;
  info.n_tokens = tokens.size();
  info.n_docs = doc_offsets.size() - 1;
  // Checksums of the little-endian bytes (x86 is little-endian; HDF5 stores the LE types below).
  info.tokens_crc32 = crc32(tokens.data(), tokens.size() * sizeof(uint32_t));
  info.doc_offsets_crc32 = crc32(doc_offsets.data(), doc_offsets.size() * sizeof(uint64_t));

  const std::string path = (fs::path(dir) / file).string();
  auto lock = h5::library_lock();
  h5::Handle f(H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, h5::checksummed_fapl().get())),
               H5Fclose);
  {
    h5::Handle d = create_checked_dataset(f.get(), "tokens", H5T_STD_U32LE, tokens.size(), k_token_chunk);
    H5_CHECK(H5Dwrite(d.get(), H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, tokens.data()));
  }
  {
    h5::Handle d = create_checked_dataset(f.get(), "doc_offsets", H5T_STD_U64LE, doc_offsets.size(), 8192);
    H5_CHECK(H5Dwrite(d.get(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, doc_offsets.data()));
  }
  h5::write_attr_i64(f.get(), "format_version", k_store_format_version);
  h5::write_attr_i64(f.get(), "vocab_size", vocab_size);
  h5::write_attr_str(f.get(), "tokenizer_sha256", tokenizer_sha256);
  h5::write_attr_u64(f.get(), "n_tokens", info.n_tokens);
  h5::write_attr_u64(f.get(), "n_docs", info.n_docs);
  h5::write_attr_u64(f.get(), "tokens_crc32", info.tokens_crc32);
  h5::write_attr_u64(f.get(), "doc_offsets_crc32", info.doc_offsets_crc32);
  H5_CHECK(H5Fflush(f.get(), H5F_SCOPE_LOCAL));
  return info;
}

// ------------------------------------------------------------------------------------ reader

TokenStore::TokenStore(std::string dir, Manifest m, Tokenizer t)
    : dir_(std::move(dir)), manifest_(std::move(m)), tokenizer_(std::move(t)) {}

TokenStore TokenStore::open(const std::string& dir) {
  Manifest m = read_manifest(dir);
  const std::string tok_path = (fs::path(dir) / k_tokenizer_name).string();
  Tokenizer tok = Tokenizer::load(tok_path);
  GLM3D_USAGE_CHECK(tok.sha256() == m.tokenizer_sha256)
      << "tokenizer " << tok_path << " has sha256 " << tok.sha256() << " but the manifest of " << dir
      << " says " << m.tokenizer_sha256;
  GLM3D_USAGE_CHECK(tok.vocab_size() == m.vocab_size)
      << "tokenizer " << tok_path << " has " << tok.vocab_size()
      << " pieces but the manifest says vocab_size " << m.vocab_size;
  TokenStore store(dir, std::move(m), std::move(tok));
  uint64_t start = 0;
  for (const ShardInfo& s : store.manifest_.shards) {
    OpenShard o;
    o.path = (fs::path(dir) / s.file).string();
    o.file = open_shard_file(o.path);
    try {
      const hid_t f = o.file.get();
      const int64_t version = h5::read_attr_i64(f, "format_version");
      const int64_t vocab = h5::read_attr_i64(f, "vocab_size");
      const std::string sha = h5::read_attr_str(f, "tokenizer_sha256");
      const uint64_t n = h5::read_attr_u64(f, "n_tokens");
      const uint64_t crc = h5::read_attr_u64(f, "tokens_crc32");
      o.tokens = h5::Handle(H5_CHECK(H5Dopen2(f, "tokens", H5P_DEFAULT)), H5Dclose);
      const uint64_t rows =
          dataset_length(o.tokens.get(), "token store shard " + o.path + ": dataset tokens");
      GLM3D_USAGE_CHECK(version == k_store_format_version && vocab == store.manifest_.vocab_size &&
                        sha == store.manifest_.tokenizer_sha256 && n == s.n_tokens && rows == n &&
                        crc == s.tokens_crc32)
          << "token store shard " << o.path << " does not match the manifest (format " << version
          << ", vocab " << vocab << ", " << rows << " rows, n_tokens " << n << ", crc32 "
          << crc32_hex(uint32_t(crc)) << "; manifest: " << s.n_tokens << " tokens, crc32 "
          << crc32_hex(s.tokens_crc32) << ")";
    } catch (const Error& e) {
      GLM3D_USAGE_FAIL() << "token store shard " << o.path << " is damaged: " << e.what();
    }
    store.starts_.push_back(start);
    start += s.n_tokens;
    store.shards_.push_back(std::move(o));
  }
  store.starts_.push_back(start);
  return store;
}

void TokenStore::read(uint64_t start, uint64_t count, uint32_t* out) const {
  GLM3D_CHECK(start + count <= total_tokens()) << "token range [" << start << ", " << start + count
                                               << ") is outside the store (" << total_tokens() << " tokens)";
  while (count > 0) {
    // Shard holding `start`: the last shard whose first token is <= start.
    const size_t s = size_t(std::upper_bound(starts_.begin(), starts_.end(), start) - starts_.begin()) - 1;
    const uint64_t local = start - starts_[s];
    const uint64_t n = std::min(count, starts_[s + 1] - start);
    try {
      read_rows(shards_[s].tokens.get(), H5T_NATIVE_UINT32, local, n, out);
    } catch (const Error& e) {
      GLM3D_USAGE_FAIL() << "token store shard " << shards_[s].path << ": reading tokens [" << local << ", "
                         << local + n
                         << ") failed (corrupted or truncated shard; chunk checksum): " << e.what();
    }
    check_vocab(out, n, vocab_size(), shards_[s].path, local);
    start += n;
    count -= n;
    out += n;
  }
}

// ------------------------------------------------------------------------------------ verify

VerifyReport verify_store(const std::string& dir) {
  const TokenStore store = TokenStore::open(dir); // manifest, tokenizer and shard attributes
  VerifyReport rep;
  const Manifest& m = store.manifest();
  for (const ShardInfo& s : m.shards) {
    const std::string path = (fs::path(dir) / s.file).string();
    h5::Handle f = open_shard_file(path);
    try {
      h5::Handle tok(H5_CHECK(H5Dopen2(f.get(), "tokens", H5P_DEFAULT)), H5Dclose);
      h5::Handle off(H5_CHECK(H5Dopen2(f.get(), "doc_offsets", H5P_DEFAULT)), H5Dclose);
      // Tokens in blocks: CRC-32 over the whole dataset and the vocab invariant.
      std::vector<uint32_t> buf(1 << 20);
      uint32_t crc = 0;
      for (uint64_t at = 0; at < s.n_tokens; at += buf.size()) {
        const uint64_t n = std::min<uint64_t>(buf.size(), s.n_tokens - at);
        read_rows(tok.get(), H5T_NATIVE_UINT32, at, n, buf.data());
        check_vocab(buf.data(), n, m.vocab_size, path, at);
        crc = crc32(buf.data(), n * sizeof(uint32_t), crc);
      }
      GLM3D_USAGE_CHECK(crc == s.tokens_crc32)
          << "token store shard " << path << ": tokens crc32 " << crc32_hex(crc) << " != recorded "
          << crc32_hex(s.tokens_crc32);
      const uint64_t n_off = dataset_length(off.get(), "token store shard " + path + ": dataset doc_offsets");
      // (n_docs comes from the manifest: n_docs + 1 may wrap, and an empty dataset has no front())
      GLM3D_USAGE_CHECK(n_off >= 2 && n_off - 1 == s.n_docs)
          << "token store shard " << path << ": doc_offsets has " << n_off << " rows, expected " << s.n_docs
          << " + 1";
      std::vector<uint64_t> offs(n_off);
      read_rows(off.get(), H5T_NATIVE_UINT64, 0, n_off, offs.data());
      const uint32_t ocrc = crc32(offs.data(), offs.size() * sizeof(uint64_t));
      GLM3D_USAGE_CHECK(ocrc == s.doc_offsets_crc32)
          << "token store shard " << path << ": doc_offsets crc32 " << crc32_hex(ocrc) << " != recorded "
          << crc32_hex(s.doc_offsets_crc32);
      GLM3D_USAGE_CHECK(offs.front() == 0 && offs.back() == s.n_tokens &&
                        std::is_sorted(offs.begin(), offs.end()) &&
                        std::adjacent_find(offs.begin(), offs.end()) == offs.end())
          << "token store shard " << path << ": doc_offsets are not strictly increasing from 0 to n_tokens";
    } catch (const Error& e) {
      GLM3D_USAGE_FAIL() << "token store shard " << path << " is damaged: " << e.what();
    }
    rep.shards += 1;
    rep.tokens += s.n_tokens;
    rep.docs += s.n_docs;
  }
  return rep;
}

} // namespace glm3d
