// Data pipeline throughput: `glm3d prep` tokens/s on the sample corpus (tokenize + write
// shards with a given tokenizer; tokenizer training separately) and loader samples/s at
// seq 2048 (store read + GLM collation, with and without background prefetch).
// Needs the Debian fortunes packages (data/corpus/make_sample_corpus.sh builds the corpus).
#include "data/prep.h"
#include "data/store_source.h"
#include "data/token_store.h"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace {

namespace fs = std::filesystem;

// Corpus, tokenizer and store built once per process under /tmp.
struct DataBenchFixture {
  std::string root, store;
  std::vector<std::string> inputs;
  DataBenchFixture() {
    root = (fs::temp_directory_path() / ("glm3d_bench_data_" + std::to_string(::getpid()))).string();
    const std::string cmd = std::string("bash ") + GLM3D_SOURCE_DIR + "/data/corpus/make_sample_corpus.sh " +
                            root + "/corpus > /dev/null";
    if (std::system(cmd.c_str()) != 0)
      throw std::runtime_error("cannot build the sample corpus: " + cmd);
    inputs = {root + "/corpus/en.txt", root + "/corpus/zh.txt"};
    glm3d::PrepOptions o;
    o.inputs = inputs;
    o.out_dir = root + "/store";
    o.train_tokenizer = true;
    o.train.vocab_size = 8000;
    o.shard_tokens = 1 << 18;
    glm3d::run_prep(o, MPI_COMM_WORLD);
    store = o.out_dir;
  }
  ~DataBenchFixture() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

DataBenchFixture& fixture() {
  static DataBenchFixture f;
  return f;
}

void BM_PrepTrainTokenizer(benchmark::State& state) {
  DataBenchFixture& f = fixture();
  static int run = 0;
  for (auto _ : state) {
    glm3d::PrepOptions o;
    o.inputs = f.inputs;
    o.out_dir = f.root + "/train_" + std::to_string(run++);
    o.train_tokenizer = true;
    o.train.vocab_size = 8000;
    const glm3d::PrepResult r = glm3d::run_prep(o, MPI_COMM_WORLD);
    state.counters["tokens"] = double(r.tokens);
  }
}
BENCHMARK(BM_PrepTrainTokenizer)->Unit(benchmark::kSecond)->Iterations(1);

void BM_PrepTokenize(benchmark::State& state) {
  DataBenchFixture& f = fixture();
  uint64_t tokens = 0;
  static int run = 0; // google benchmark calls this function several times
  for (auto _ : state) {
    glm3d::PrepOptions o;
    o.inputs = f.inputs;
    o.out_dir = f.root + "/prep_" + std::to_string(run++);
    o.tokenizer_path = f.store + "/tokenizer.model";
    o.shard_tokens = 1 << 18;
    tokens += glm3d::run_prep(o, MPI_COMM_WORLD).tokens;
  }
  state.counters["tokens/s"] = benchmark::Counter(double(tokens), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PrepTokenize)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

// Loader: global batch of 8 samples per "step" at seq 2048; arg 1 = announce them first.
void BM_LoaderSeq2048(benchmark::State& state) {
  const bool prefetch = state.range(0) != 0;
  const auto src = glm3d::open_store_source(fixture().store, 2048, 1234, glm3d::CollatorOptions{});
  int64_t k = 0, samples = 0;
  for (auto _ : state) {
    std::vector<int64_t> ks;
    for (int i = 0; i < 8; ++i)
      ks.push_back(k++);
    if (prefetch)
      src->will_need(ks);
    for (int64_t i : ks)
      benchmark::DoNotOptimize(src->get(i).tokens.data());
    samples += 8;
  }
  state.counters["samples/s"] = benchmark::Counter(double(samples), benchmark::Counter::kIsRate);
  state.counters["tokens/s"] = benchmark::Counter(double(samples) * 2048, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LoaderSeq2048)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
