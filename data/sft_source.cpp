#include "data/sft_source.h"

#include "core/check.h"
#include "data/rng.h"
#include "data/sft_store.h"
#include "data/store_source.h"

namespace glm3d {

namespace {

class SftSampleSource final : public SampleSource {
public:
  SftSampleSource(SftStore store, std::string split, int64_t seq_len, uint64_t seed, SftOrder order)
      : store_(std::move(store)), split_(std::move(split)), n_(store_.examples(split_)), seq_len_(seq_len),
        seed_(seed), order_(order) {}

  int64_t seq_len() const override { return seq_len_; }
  int64_t vocab_size() const override { return store_.manifest().vocab_size; }
  std::string tokenizer_hash() const override { return store_.manifest().tokenizer_sha256; }
  int64_t examples() const { return n_; }
  SftOrder order() const { return order_; }

  // Example of global sample k.
  int64_t example_of(int64_t k) const {
    GLM3D_CHECK(k >= 0) << "negative sample index " << k;
    if (order_ == SftOrder::in_order) {
      GLM3D_USAGE_CHECK(k < n_) << "sample " << k << " asked of the " << split_ << " split of SFT store "
                                << store_.dir() << ", which holds " << n_ << " examples";
      return k;
    }
    const int64_t epoch = k / n_;
    const KeyedPermutation perm(uint64_t(n_),
                                mix64(mix64(seed_ ^ 0x5346544558ull /* "SFTEX" */) ^ uint64_t(epoch)));
    return int64_t(perm(uint64_t(k % n_)));
  }

  Sample get(int64_t k) override {
    return sft_sample(store_.read(split_, example_of(k)), store_.manifest().special.pad, seq_len_,
                      store_.manifest().causal());
  }

private:
  SftStore store_;
  std::string split_;
  int64_t n_, seq_len_;
  uint64_t seed_;
  SftOrder order_;
};

} // namespace

std::unique_ptr<SampleSource> open_sft_source(const std::string& dir, const std::string& split,
                                              int64_t seq_len, uint64_t seed, SftOrder order,
                                              const std::string& expected_tokenizer_sha256) {
  SftStore store = SftStore::open(dir);
  const int64_t S = store.manifest().seq_len;
  GLM3D_USAGE_CHECK(seq_len == 0 || seq_len >= S)
      << "sequence length " << seq_len << " is shorter than the examples of SFT store " << dir << " (" << S
      << " = max_source_len " << store.manifest().max_source_len << " + max_target_len "
      << store.manifest().max_target_len << (store.manifest().causal() ? " + 1" : "") << "); give --seq-len "
      << S << " or more";
  GLM3D_USAGE_CHECK(expected_tokenizer_sha256.empty() ||
                    expected_tokenizer_sha256 == store.manifest().tokenizer_sha256)
      << "SFT store " << dir << " was made with tokenizer sha256 " << store.manifest().tokenizer_sha256
      << ", but " << expected_tokenizer_sha256 << " is expected (the checkpoint's tokenizer)";
  store.examples(split); // UsageError naming the store when the split is absent
  return std::make_unique<SftSampleSource>(std::move(store), split, seq_len ? seq_len : S, seed, order);
}

int64_t sft_store_seq_len(const std::string& dir) {
  return read_sft_manifest(dir).seq_len;
}

std::unique_ptr<SampleSource> open_training_source(const std::string& dir, int64_t seq_len, uint64_t seed,
                                                   const CollatorOptions& opts,
                                                   const std::string& expected_tokenizer_sha256) {
  if (is_sft_store(dir))
    return open_sft_source(dir, "train", seq_len, seed, SftOrder::shuffled, expected_tokenizer_sha256);
  return open_store_source(dir, seq_len, seed, opts, expected_tokenizer_sha256);
}

std::unique_ptr<SampleSource> open_eval_source(const std::string& dir, int64_t seq_len, uint64_t seed,
                                               const std::string& expected_tokenizer_sha256) {
  if (is_sft_store(dir))
    return open_sft_source(dir, "valid", seq_len, seed, SftOrder::in_order, expected_tokenizer_sha256);
  return open_store_source(dir, seq_len, seed, CollatorOptions{}, expected_tokenizer_sha256);
}

int64_t finite_sample_count(const SampleSource& src) {
  const auto* sft = dynamic_cast<const SftSampleSource*>(&src);
  return sft && sft->order() == SftOrder::in_order ? sft->examples() : -1;
}

} // namespace glm3d
