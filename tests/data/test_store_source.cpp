// The trainer's SampleSource over a store: sample k is a pure function of (store, seed, k):
// same across fresh sources (resume), data-parallel splits and prefetch vs. direct reads.
#include "data/prep.h"
#include "data/sample_file.h"
#include "data/store_source.h"
#include "data/token_store.h"
#include "data/window_sampler.h"
#include "data_fixture.h"

#include <gtest/gtest.h>

#include <set>

namespace glm3d {
namespace {

const std::string& store_dir() {
  static const std::string dir = [] {
    const std::string d = test::temp_dir("src");
    test::write_text_file(d + "/a.txt", test::bilingual_docs(150, 21));
    test::write_text_file(d + "/b.txt", test::bilingual_docs(150, 22));
    PrepOptions o;
    o.inputs = {d + "/a.txt", d + "/b.txt"};
    o.out_dir = d + "/store";
    o.tokenizer_path = test::tokenizer_path();
    o.shard_tokens = 3000;
    run_prep(o, MPI_COMM_WORLD);
    return o.out_dir;
  }();
  return dir;
}

void expect_same(const Sample& a, const Sample& b, int64_t k) {
  EXPECT_EQ(a.tokens, b.tokens) << "sample " << k;
  EXPECT_EQ(a.position_ids, b.position_ids) << "sample " << k;
  EXPECT_EQ(a.block_position_ids, b.block_position_ids) << "sample " << k;
  EXPECT_EQ(a.targets, b.targets) << "sample " << k;
  EXPECT_EQ(a.loss_mask, b.loss_mask) << "sample " << k;
  EXPECT_EQ(a.sep, b.sep) << "sample " << k;
  EXPECT_EQ(a.kind, b.kind) << "sample " << k;
}

constexpr int64_t kSeq = 128;

TEST(StoreSource, ResumeAndDataParallelSplitsSeeTheSameSamples) {
  const auto straight = open_store_source(store_dir(), kSeq, 17, CollatorOptions{});
  ASSERT_GT(WindowSampler(TokenStore::open(store_dir()).total_tokens(), kSeq - 2, 17).windows_per_epoch(),
            0u);
  std::vector<Sample> ref;
  for (int64_t k = 0; k < 100; ++k)
    ref.push_back(straight->get(k));
  // Resume: 0..49 from one source object, 50..99 from a freshly opened one.
  {
    const auto first = open_store_source(store_dir(), kSeq, 17, CollatorOptions{});
    for (int64_t k = 0; k < 50; ++k)
      expect_same(first->get(k), ref[size_t(k)], k);
    const auto resumed = open_store_source(store_dir(), kSeq, 17, CollatorOptions{});
    for (int64_t k = 50; k < 100; ++k)
      expect_same(resumed->get(k), ref[size_t(k)], k);
  }
  // dp = 2 and dp = 3 (strided ranks, global batch 6), each rank prefetching its indices.
  for (int dp : {2, 3}) {
    std::vector<std::unique_ptr<SampleSource>> ranks;
    for (int r = 0; r < dp; ++r)
      ranks.push_back(open_store_source(store_dir(), kSeq, 17, CollatorOptions{}));
    for (int64_t step = 0; step * 6 < 100; ++step) {
      std::vector<std::vector<int64_t>> mine(static_cast<size_t>(dp));
      for (int64_t k = step * 6; k < std::min<int64_t>(100, step * 6 + 6); ++k)
        mine[size_t(k % dp)].push_back(k);
      for (int r = 0; r < dp; ++r)
        ranks[size_t(r)]->will_need(mine[size_t(r)]);
      for (int r = 0; r < dp; ++r)
        for (int64_t k : mine[size_t(r)])
          expect_same(ranks[size_t(r)]->get(k), ref[size_t(k)], k);
    }
  }
  // Another seed gives other samples.
  const auto other = open_store_source(store_dir(), kSeq, 18, CollatorOptions{});
  int differ = 0;
  for (int64_t k = 0; k < 10; ++k)
    differ += other->get(k).tokens != ref[size_t(k)].tokens;
  EXPECT_GE(differ, 8);
}

TEST(StoreSource, SamplesAreCollatedStoreWindowsAndEpochsArePermutations) {
  const TokenStore store = TokenStore::open(store_dir());
  const WindowSampler sampler(store.total_tokens(), kSeq - 2, 5);
  const uint64_t W = sampler.windows_per_epoch();
  ASSERT_GT(W, 20u);
  const auto src = open_store_source(store_dir(), kSeq, 5, CollatorOptions{});
  EXPECT_EQ(src->seq_len(), kSeq);
  EXPECT_EQ(src->vocab_size(), store.vocab_size());
  EXPECT_EQ(src->tokenizer_hash(), store.tokenizer().sha256());
  const SpecialTokens sp = store_special_tokens(store_dir());
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::set<uint64_t> seen;
    for (uint64_t i = 0; i < W; ++i) {
      const auto pick = sampler.pick(epoch * int64_t(W) + int64_t(i));
      EXPECT_EQ(pick.epoch, epoch);
      seen.insert(pick.window);
    }
    EXPECT_EQ(seen.size(), W); // every window exactly once per epoch
  }
  EXPECT_NE(sampler.pick(0).window * 1000 + sampler.pick(1).window,
            sampler.pick(int64_t(W)).window * 1000 + sampler.pick(int64_t(W) + 1).window);
  // Part A of a [gMASK] sample is the window prefix read straight from the store.
  int checked = 0;
  for (int64_t k = 0; k < 40; ++k) {
    const Sample s = src->get(k);
    ASSERT_EQ(int64_t(s.tokens.size()), kSeq);
    if (s.kind != 1)
      continue;
    std::vector<uint32_t> w(kSeq - 2);
    store.read(sampler.pick(k).token_start, w.size(), w.data());
    EXPECT_EQ(s.tokens[size_t(s.sep - 1)], sp.gmask);
    for (int32_t i = 0; i + 1 < s.sep; ++i)
      ASSERT_EQ(uint32_t(s.tokens[size_t(i)]), w[size_t(i)]);
    for (int32_t i = s.sep; i < kSeq - 1; ++i)
      ASSERT_EQ(uint32_t(s.targets[size_t(i)]), w[size_t(i - 1)]);
    EXPECT_EQ(s.targets[kSeq - 1], sp.eop);
    ++checked;
  }
  EXPECT_GT(checked, 15);
}

TEST(StoreSource, PermutationIsABijectionForManySizes) {
  for (uint64_t n : {1u, 2u, 3u, 17u, 64u, 1000u, 4097u}) {
    const KeyedPermutation p(n, 1234);
    std::vector<uint8_t> hit(n, 0);
    for (uint64_t i = 0; i < n; ++i)
      hit[p(i)]++;
    for (uint64_t i = 0; i < n; ++i)
      ASSERT_EQ(hit[i], 1) << "n=" << n;
  }
}

TEST(StoreSource, TooShortStoreIsAUsageError) {
  EXPECT_THROW(open_store_source(store_dir(), 1 << 20, 1, CollatorOptions{}), UsageError);
}

TEST(SampleFile, RoundTrip) {
  const auto src = open_store_source(store_dir(), kSeq, 3, CollatorOptions{});
  std::vector<Sample> samples;
  for (int64_t k = 0; k < 7; ++k)
    samples.push_back(src->get(k));
  const std::string path = test::temp_dir("samples") + "/s.h5";
  write_sample_file(path, samples, {{"store", store_dir()}});
  const std::vector<Sample> back = read_sample_file(path);
  ASSERT_EQ(back.size(), samples.size());
  for (size_t k = 0; k < back.size(); ++k)
    expect_same(back[k], samples[k], int64_t(k));
  EXPECT_THROW(read_sample_file(path + ".missing"), UsageError);
  EXPECT_THROW(read_sample_file(store_dir() + "/manifest.txt"), UsageError);
}

} // namespace
} // namespace glm3d
