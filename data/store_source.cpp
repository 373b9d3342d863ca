#include "data/store_source.h"

#include "core/check.h"
#include "data/token_store.h"
#include "data/window_sampler.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace glm3d {

void check_store_tokenizer(const std::string& dir, const std::string& expected) {
  const std::string have = store_tokenizer_sha256(dir);
  GLM3D_USAGE_CHECK(have == expected) << "token store " << dir << " was made with tokenizer sha256 " << have
                                      << ", but " << expected << " is expected (the checkpoint's tokenizer)";
}

SpecialTokens store_special_tokens(const std::string& dir) {
  return TokenStore::open(dir).tokenizer().special();
}

namespace {

// Reads and collates on a background thread the indices announced by will_need(); get(k)
// takes a prefetched sample, waits for one in flight, or builds it on the caller's thread.
class StoreSampleSource final : public SampleSource {
public:
  StoreSampleSource(TokenStore store, int64_t seq_len, uint64_t seed, const CollatorOptions& opts)
      : store_(std::move(store)),
        collator_(seq_len, store_.tokenizer().special(), store_.tokenizer().sentence_end_table(), opts),
        sampler_(store_.total_tokens(), uint64_t(collator_.window_len()), seed), seed_(seed) {
    worker_ = std::thread([this] { run(); });
  }
  ~StoreSampleSource() override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  int64_t seq_len() const override { return collator_.seq_len(); }
  int64_t vocab_size() const override { return store_.vocab_size(); }
  std::string tokenizer_hash() const override { return store_.tokenizer().sha256(); }

  void will_need(const std::vector<int64_t>& ks) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (int64_t k : ks) {
        GLM3D_CHECK(k >= 0) << "negative sample index " << k;
        if (slots_.count(k))
          continue;
        slots_[k]; // state: queued
        queue_.push_back(k);
      }
    }
    cv_.notify_all();
  }

  Sample get(int64_t k) override {
    std::unique_lock<std::mutex> lk(mu_);
    auto it = slots_.find(k);
    if (it == slots_.end()) {
      lk.unlock();
      return make(k); // not announced: build it here
    }
    if (!it->second.done && !it->second.running) {
      // Still queued: build it here rather than wait behind earlier entries.
      it->second.running = true;
      it->second.claimed = true;
      lk.unlock();
      Slot result = build_slot(k);
      lk.lock();
      slots_.erase(k);
      return take(result);
    }
    cv_.wait(lk, [&] { return slots_.at(k).done; });
    Slot result = std::move(slots_.at(k));
    slots_.erase(k);
    lk.unlock();
    return take(result);
  }

private:
  struct Slot {
    bool running = false, done = false, claimed = false;
    Sample sample;
    std::exception_ptr error;
  };

  Sample make(int64_t k) const {
    const WindowSampler::Pick pick = sampler_.pick(k);
    std::vector<uint32_t> window(size_t(collator_.window_len())); // [window_len]
    store_.read(pick.token_start, window.size(), window.data());
    return collator_.collate(window.data(), seed_, k);
  }

  Slot build_slot(int64_t k) const {
    Slot s;
    try {
      s.sample = make(k);
    } catch (...) {
      s.error = std::current_exception();
    }
    s.done = true;
    return s;
  }

  static Sample take(Slot& s) {
    if (s.error)
      std::rethrow_exception(s.error);
    return std::move(s.sample);
  }

  void run() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (stop_)
        return;
      const int64_t k = queue_.front();
      queue_.pop_front();
      auto it = slots_.find(k);
      if (it == slots_.end() || it->second.claimed)
        continue;
      it->second.running = true;
      lk.unlock();
      Slot result = build_slot(k);
      lk.lock();
      auto again = slots_.find(k);
      if (again != slots_.end())
        again->second = std::move(result);
      cv_.notify_all();
    }
  }

  TokenStore store_;
  GlmCollator collator_;
  WindowSampler sampler_;
  uint64_t seed_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int64_t> queue_;
  std::unordered_map<int64_t, Slot> slots_;
  bool stop_ = false;
  std::thread worker_;
};

} // namespace

std::unique_ptr<SampleSource> open_store_source(const std::string& dir, int64_t seq_len, uint64_t seed,
                                                const CollatorOptions& opts,
                                                const std::string& expected_tokenizer_sha256) {
  TokenStore store = TokenStore::open(dir);
  if (!expected_tokenizer_sha256.empty())
    check_store_tokenizer(dir, expected_tokenizer_sha256);
  return std::make_unique<StoreSampleSource>(std::move(store), seq_len, seed, opts);
}

} // namespace glm3d
