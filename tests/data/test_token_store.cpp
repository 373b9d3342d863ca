// Token store: exact reads across shard boundaries, verify, and each kind of damage reported
// as a UsageError naming the file.
#include "data/checksum.h"
#include "data/h5_check.h"
#include "data/store_source.h"
#include "data/token_store.h"
#include "data_fixture.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace glm3d {
namespace {

namespace fs = std::filesystem;

// Token i of the concatenated stream of three shards is 8 + i % 383 (all < vocab 400).
std::vector<std::vector<uint32_t>> three_shards() {
  std::vector<std::vector<uint32_t>> shards(3);
  uint32_t i = 0;
  for (size_t s = 0; s < 3; ++s)
    for (size_t n = 0; n < 20000 + 7000 * s; ++n, ++i)
      shards[s].push_back(8 + i % 383);
  return shards;
}

std::string usage_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no UsageError";
}

TEST(TokenStore, ReadsExactRangesAcrossShards) {
  const std::string dir = test::make_manual_store(test::temp_dir("store") + "/s", three_shards());
  const TokenStore store = TokenStore::open(dir);
  EXPECT_EQ(store.total_tokens(), 20000u + 27000u + 34000u);
  EXPECT_EQ(store.vocab_size(), 400);
  for (auto [start, count] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 10}, {19990, 20}, {16380, 10}, {46990, 20}, {19999, 27002}, {80990, 10}}) {
    std::vector<uint32_t> got(count);
    store.read(start, count, got.data());
    for (uint64_t i = 0; i < count; ++i)
      ASSERT_EQ(got[i], 8 + (start + i) % 383) << start << "+" << i;
  }
  const VerifyReport rep = verify_store(dir);
  EXPECT_EQ(rep.shards, 3u);
  EXPECT_EQ(rep.tokens, 81000u);
  EXPECT_EQ(rep.docs, 3u);
}

TEST(TokenStore, ShardAttributesReadBackWithHdf5) {
  const std::string dir = test::make_manual_store(test::temp_dir("store") + "/s", three_shards());
  const Manifest m = read_manifest(dir);
  ASSERT_EQ(m.shards.size(), 3u);
  EXPECT_EQ(m.shards[1].n_tokens, 27000u);
  // The recorded CRC is zlib.crc32 of the little-endian tokens.
  const auto shards = three_shards();
  EXPECT_EQ(m.shards[2].tokens_crc32, crc32(shards[2].data(), shards[2].size() * 4));
}

// Flips one byte inside the tokens data of a shard (found by its known contents).
void corrupt_token_bytes(const std::string& path, uint32_t first_token_value) {
  std::string bytes = test::read_bytes(path);
  uint32_t pattern[4];
  for (uint32_t i = 0; i < 4; ++i)
    pattern[i] = first_token_value + i;
  const size_t at = bytes.find(std::string(reinterpret_cast<const char*>(pattern), sizeof pattern));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] ^= 0x01; // a token id changes by 256: still < vocab, only a checksum can tell
  test::write_bytes(path, bytes);
}

TEST(TokenStore, CorruptedShardIsDetectedByVerifyAndByTheReader) {
  const std::string dir = test::make_manual_store(test::temp_dir("store") + "/s", three_shards());
  corrupt_token_bytes(dir + "/shard-1.h5", 8 + 20000 % 383);
  const std::string v = usage_error_of([&] { verify_store(dir); });
  EXPECT_NE(v.find(dir + "/shard-1.h5"), std::string::npos) << v;
  const TokenStore store = TokenStore::open(dir); // attributes are intact
  std::vector<uint32_t> got(100);
  const std::string r = usage_error_of([&] { store.read(20000, 100, got.data()); });
  EXPECT_NE(r.find(dir + "/shard-1.h5"), std::string::npos) << r;
  EXPECT_NE(r.find("checksum"), std::string::npos) << r;
  // Rows of the other shards still read.
  store.read(0, 100, got.data());
  EXPECT_EQ(got[99], 8u + 99u);
}

TEST(TokenStore, TruncatedShardNamesTheFile) {
  const std::string dir = test::make_manual_store(test::temp_dir("store") + "/s", three_shards());
  fs::resize_file(dir + "/shard-2.h5", fs::file_size(dir + "/shard-2.h5") / 2);
  const std::string e = usage_error_of([&] { TokenStore::open(dir); });
  EXPECT_NE(e.find("token store shard " + dir + "/shard-2.h5"), std::string::npos) << e;
  EXPECT_NE(usage_error_of([&] { verify_store(dir); }).find("shard-2.h5"), std::string::npos);
}

TEST(TokenStore, TokenIdAtOrAboveVocabIsRejected) {
  auto shards = three_shards();
  shards[0][123] = 400; // == vocab size
  const std::string dir = test::make_manual_store(test::temp_dir("store") + "/s", shards);
  const std::string v = usage_error_of([&] { verify_store(dir); });
  EXPECT_NE(v.find(dir + "/shard-0.h5: token id 400 at row 123 is >= vocab size 400"), std::string::npos)
      << v;
  const TokenStore store = TokenStore::open(dir);
  std::vector<uint32_t> got(200);
  EXPECT_NE(usage_error_of([&] { store.read(0, 200, got.data()); }).find("token id 400"), std::string::npos);
}

TEST(TokenStore, MissingManifestAndWrongTokenizerFile) {
  const std::string dir = test::make_manual_store(test::temp_dir("store") + "/s", three_shards());
  // A different tokenizer file than the manifest records.
  const std::string good = test::read_bytes(dir + "/tokenizer.model");
  test::write_bytes(dir + "/tokenizer.model", good + " ");
  EXPECT_NE(usage_error_of([&] { TokenStore::open(dir); }).find(dir + "/tokenizer.model"), std::string::npos);
  test::write_bytes(dir + "/tokenizer.model", good);
  fs::remove(dir + "/manifest.txt");
  EXPECT_NE(usage_error_of([&] { TokenStore::open(dir); }).find(dir + "/manifest.txt"), std::string::npos);
  EXPECT_NE(usage_error_of([&] { TokenStore::open(dir + "/nope"); }).find(dir + "/nope"), std::string::npos);
}

TEST(TokenStore, StoreMadeWithAnotherTokenizerThanExpected) {
  const std::string dir = test::make_manual_store(test::temp_dir("store") + "/s", three_shards());
  const std::string other(64, 'a');
  const std::string e = usage_error_of([&] { open_store_source(dir, 64, 1, CollatorOptions{}, other); });
  EXPECT_NE(e.find("token store " + dir), std::string::npos) << e;
  EXPECT_NE(e.find(test::tokenizer().sha256()), std::string::npos) << e;
  EXPECT_NE(e.find(other), std::string::npos) << e;
  EXPECT_NO_THROW(check_store_tokenizer(dir, test::tokenizer().sha256()));
  EXPECT_NO_THROW(open_store_source(dir, 64, 1, CollatorOptions{}, test::tokenizer().sha256()));
}

TEST(H5Check, FailureCarriesFileLineAndCall) {
  try {
    H5_CHECK(H5Fopen("/nonexistent/x.h5", H5F_ACC_RDONLY, H5P_DEFAULT));
    FAIL() << "no throw";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("test_token_store.cpp:"), std::string::npos) << m;
    EXPECT_NE(m.find("H5Fopen(\"/nonexistent/x.h5\""), std::string::npos) << m;
  }
}

} // namespace
} // namespace glm3d
