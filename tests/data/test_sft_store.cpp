// glm3d prep sft's bad input (every line named by file and line; --skip-bad), the SFT store's
// checksums and verify, --overwrite, and the sample sources over it (order, determinism).
#include "data/h5_check.h"
#include "data/sft_prep.h"
#include "data/sft_source.h"
#include "data/sft_store.h"
#include "data/store_source.h"
#include "data_fixture.h"
#include "sp_model_builder.h"
#include "usage_error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace glm3d {
namespace {

namespace fs = std::filesystem;

SftPrepOptions options(const std::vector<std::string>& inputs, const std::string& out) {
  SftPrepOptions o;
  o.inputs = inputs;
  o.out_dir = out;
  o.tokenizer_path = test::tokenizer_path(); // glm3d's own SentencePiece tokenizer
  o.max_source_len = 12;
  o.max_target_len = 12;
  return o;
}

// A JSONL file of n good records ("content"/"summary"), deterministic in seed.
std::string good_file(const std::string& path, int n, uint64_t seed) {
  const auto docs = test::bilingual_docs(2 * n, seed);
  std::string text;
  for (int i = 0; i < n; ++i)
    text +=
        nlohmann::json{{"content", docs[size_t(2 * i)]}, {"summary", docs[size_t(2 * i + 1)]}}.dump() + "\n";
  test::write_bytes(path, text);
  return path;
}

TEST(PrepSftBadInput, EveryBadLineIsNamedByFileAndLine) {
  const std::string d = test::temp_dir("sft_bad");
  const std::string f = d + "/bad.jsonl";
  test::write_bytes(f, "{\"content\": \"ab\", \"summary\": \"cd\"}\n"
                       "not json\n"
                       "{\"content\": \"ab\"}\n"
                       "{\"content\": \"ab\", \"summary\": \" \"}\n"
                       "{\"content\": \"ab\", \"summary\": \"c\xff\"}\n"
                       "[\"a\"]\n"
                       "{\"content\": 5, \"summary\": \"cd\"}\n");
  const std::string at = "input file " + f + " line ";
  const std::vector<std::string> want = {
      at + "2: not valid JSON (at column 2: syntax error while parsing value - invalid literal; last read: "
           "'no')",
      at + "3: no field 'summary' (the object's string fields: \"content\"); name the answer's field with "
           "--response-key",
      at + "4: empty answer (field 'summary')",
      at + "5: invalid UTF-8 at byte 31 of the line",
      at + "6: a JSON array, not an object",
      at + "7: field 'content' (the prompt) is a number, not a string"};
  // No --skip-bad: the first bad line, and nothing written.
  SftPrepOptions o = options({f}, d + "/out");
  EXPECT_EQ(test::usage_error_of([&] { run_prep_sft(o, MPI_COMM_WORLD); }),
            want[0] + " (6 bad lines; --skip-bad 0 allows 0)");
  EXPECT_FALSE(fs::exists(d + "/out"));
  o.skip_bad = 5;
  EXPECT_EQ(test::usage_error_of([&] { run_prep_sft(o, MPI_COMM_WORLD); }),
            want[0] + " (6 bad lines; --skip-bad 5 allows 5)");
  EXPECT_FALSE(fs::exists(d + "/out"));
  // --skip-bad 6: the one good line is the store; the six are reported, in order.
  o.skip_bad = 6;
  const SftPrepResult r = run_prep_sft(o, MPI_COMM_WORLD);
  EXPECT_EQ(r.skipped, want);
  EXPECT_EQ(r.train, 1);
  EXPECT_EQ(SftStore::open(d + "/out").manifest().prep["skipped_lines"], 6);
  // One bad line alone is reported as it is.
  test::write_bytes(d + "/one.jsonl",
                    "{\"content\": \"ab\", \"summary\": \"cd\"}\n{\"content\": \"\", \"summary\": \"x\"}\n");
  EXPECT_EQ(
      test::usage_error_of([&] { run_prep_sft(options({d + "/one.jsonl"}, d + "/o2"), MPI_COMM_WORLD); }),
      "input file " + d + "/one.jsonl line 2: empty prompt (field 'content')");
}

TEST(PrepSftBadInput, HistoryShapesAndOptions) {
  const std::string d = test::temp_dir("sft_bad_hist");
  const std::string f = d + "/h.jsonl";
  test::write_bytes(f, "{\"q\": \"a\", \"r\": \"b\", \"h\": [[\"x\"]]}\n");
  SftPrepOptions o = options({f}, d + "/out");
  o.keys.prompt = "q", o.keys.response = "r", o.keys.history = "h";
  EXPECT_EQ(test::usage_error_of([&] { run_prep_sft(o, MPI_COMM_WORLD); }),
            "input file " + f +
                " line 1: field 'h' (the history) must be a list of [query, response] string pairs; turn 0 "
                "is [\"x\"]");
  test::write_bytes(f, "{\"q\": \"a\", \"r\": \"b\"}\n");
  EXPECT_EQ(test::usage_error_of([&] { run_prep_sft(o, MPI_COMM_WORLD); }),
            "input file " + f + " line 1: no field 'h' (the history; --history-key names it)");
  o.max_target_len = 1;
  EXPECT_EQ(test::usage_error_of([&] { run_prep_sft(o, MPI_COMM_WORLD); }),
            "--max-target-len must be in [2, 1000000] (the answer keeps max-target-len - 2 tokens), got 1");
  o = options({d + "/missing.jsonl"}, d + "/out");
  EXPECT_NE(test::usage_error_of([&] { run_prep_sft(o, MPI_COMM_WORLD); }).find("missing.jsonl"),
            std::string::npos);
  test::write_bytes(d + "/blank.jsonl", "\n  \n");
  EXPECT_EQ(
      test::usage_error_of([&] { run_prep_sft(options({d + "/blank.jsonl"}, d + "/out"), MPI_COMM_WORLD); }),
      "glm3d prep sft: no examples in the input (empty files)");
}

TEST(SftStoreFile, SplitChecksumsVerifyAndOverwrite) {
  const std::string d = test::temp_dir("sft_store");
  SftPrepOptions o =
      options({good_file(d + "/a.jsonl", 300, 3), good_file(d + "/b.jsonl", 200, 4)}, d + "/s");
  o.valid_fraction = 0.1;
  const SftPrepResult r = run_prep_sft(o, MPI_COMM_WORLD);
  EXPECT_EQ(r.train + r.valid, 500);
  EXPECT_GT(r.valid, 25); // Binomial(500, 0.1): 50 +- 6.7
  EXPECT_LT(r.valid, 75);
  const SftStore s = SftStore::open(d + "/s");
  EXPECT_EQ(s.examples("valid"), r.valid);
  // The split of a line depends only on (seed, file, line): the same records with b.jsonl alone
  // at index 1 land the same way.
  std::set<std::pair<int32_t, int64_t>> valid_lines;
  for (int64_t i = 0; i < r.valid; ++i) {
    const SftRow row = s.read("valid", i);
    valid_lines.insert({row.source_file, row.source_line});
  }
  SftPrepOptions o2 = options({d + "/a.jsonl", d + "/b.jsonl"}, d + "/s2");
  o2.valid_fraction = 0.1;
  o2.split_seed = 99;
  const SftPrepResult r2 = run_prep_sft(o2, MPI_COMM_WORLD);
  EXPECT_EQ(r2.train + r2.valid, 500);
  std::set<std::pair<int32_t, int64_t>> valid2;
  const SftStore s2 = SftStore::open(d + "/s2");
  for (int64_t i = 0; i < r2.valid; ++i)
    valid2.insert({s2.read("valid", i).source_file, s2.read("valid", i).source_line});
  EXPECT_NE(valid_lines, valid2); // another seed, another split
  EXPECT_EQ(verify_sft_store(d + "/s").examples, 500);
  // Overwrite only with --overwrite, and only an SFT store.
  EXPECT_EQ(test::usage_error_of([&] { run_prep_sft(o, MPI_COMM_WORLD); }),
            "glm3d prep sft: output " + d + "/s already exists (use --overwrite to replace it)");
  o.overwrite = true;
  run_prep_sft(o, MPI_COMM_WORLD);
  fs::create_directories(d + "/other");
  o.out_dir = d + "/other";
  o.overwrite = true;
  EXPECT_EQ(test::usage_error_of([&] { run_prep_sft(o, MPI_COMM_WORLD); }),
            "glm3d prep sft: --overwrite replaces only an SFT store, and " + d +
                "/other has no sft_manifest.json; remove it yourself or choose another --out");
  fs::remove(d + "/other");
  o.overwrite = false;
  // A manifest CRC that disagrees with the data.
  std::string manifest = test::read_bytes(d + "/s/sft_manifest.json");
  const size_t at = manifest.find("\"labels\": \"0x") + 14;
  manifest[at] = manifest[at] == '0' ? '1' : '0';
  test::write_bytes(d + "/s/sft_manifest.json", manifest);
  EXPECT_NE(test::usage_error_of([&] { verify_sft_store(d + "/s"); }).find("dataset labels has crc32"),
            std::string::npos);
  // A flipped byte inside the first chunk of input_ids: HDF5's Fletcher-32 catches it on read.
  run_prep_sft(o, MPI_COMM_WORLD);
  const std::string train = d + "/other/train.h5";
  haddr_t addr = 0;
  {
    h5::Handle f(H5_CHECK(H5Fopen(train.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
    h5::Handle ds(H5_CHECK(H5Dopen2(f.get(), "input_ids", H5P_DEFAULT)), H5Dclose);
    const hsize_t origin[2] = {0, 0};
    unsigned mask = 0;
    hsize_t size = 0;
    H5_CHECK(H5Dget_chunk_info_by_coord(ds.get(), origin, &mask, &addr, &size));
    addr += size / 2;
  }
  std::string bytes = test::read_bytes(train);
  bytes[addr] ^= 0x5A;
  test::write_bytes(train, bytes);
  const std::string e = test::usage_error_of([&] { verify_sft_store(d + "/other"); });
  EXPECT_NE(e.find("SFT store file " + train + " is damaged"), std::string::npos) << e;
  EXPECT_NE(e.find("Fletcher32"), std::string::npos) << e;
  const std::string e2 = test::usage_error_of([&] { SftStore::open(d + "/other").read("train", 0); });
  EXPECT_NE(e2.find("reading example 0 failed"), std::string::npos) << e2;
}

TEST(SftSource, EpochsArePermutationsAndSamplesDependOnlyOnSeedAndK) {
  const std::string d = test::temp_dir("sft_src");
  SftPrepOptions o = options({good_file(d + "/a.jsonl", 37, 5)}, d + "/s");
  o.valid_fraction = 0.2;
  const SftPrepResult r = run_prep_sft(o, MPI_COMM_WORLD);
  const int64_t n = r.train;
  auto a = open_sft_source(d + "/s", "train", 0, 7, SftOrder::shuffled);
  auto b = open_sft_source(d + "/s", "train", 40, 7, SftOrder::shuffled);
  auto c = open_sft_source(d + "/s", "train", 0, 8, SftOrder::shuffled);
  const SftStore store = SftStore::open(d + "/s");
  EXPECT_EQ(a->seq_len(), 24);
  EXPECT_EQ(b->seq_len(), 40);
  for (int64_t e = 0; e < 3; ++e) {
    std::set<std::vector<int32_t>> seen;
    std::vector<int64_t> order_a, order_c;
    for (int64_t i = 0; i < n; ++i) {
      const Sample s = a->get(e * n + i);
      seen.insert(s.tokens);
      const Sample sb = b->get(e * n + i); // the same example, longer padding
      EXPECT_TRUE(std::equal(s.tokens.begin(), s.tokens.end(), sb.tokens.begin()));
      EXPECT_EQ(std::count(sb.loss_mask.begin(), sb.loss_mask.end(), 1),
                std::count(s.loss_mask.begin(), s.loss_mask.end(), 1));
      order_c.push_back(c->get(e * n + i).tokens[0]);
      order_a.push_back(s.tokens[0]);
    }
    EXPECT_EQ(int64_t(seen.size()), n) << "epoch " << e << " does not visit every example once";
    EXPECT_NE(order_a, order_c);
  }
  // Sample k is the same whatever was asked before (another source, another order of asking).
  auto again = open_sft_source(d + "/s", "train", 0, 7, SftOrder::shuffled);
  EXPECT_EQ(again->get(2 * n + 5).tokens, a->get(2 * n + 5).tokens);
  EXPECT_NE(a->get(n + 5).tokens, a->get(5).tokens); // epochs differ in order (37 examples: surely)
  // The eval source: valid examples in order; sample k = example k; no more than there are.
  auto v = open_eval_source(d + "/s", 0, 7);
  EXPECT_EQ(finite_sample_count(*v), r.valid);
  EXPECT_EQ(v->get(1).tokens, sft_sample(store.read("valid", 1), store.manifest().special.pad, 24).tokens);
  EXPECT_THROW(v->get(r.valid), UsageError);
  EXPECT_EQ(test::usage_error_of([&] { open_sft_source(d + "/s", "train", 20, 7, SftOrder::shuffled); }),
            "sequence length 20 is shorter than the examples of SFT store " + d +
                "/s (24 = max_source_len 12 + max_target_len 12); give --seq-len 24 or more");
  EXPECT_NE(test::usage_error_of([&] {
              open_sft_source(d + "/s", "train", 0, 7, SftOrder::shuffled, "beef");
            }).find("was made with tokenizer sha256"),
            std::string::npos);
  // --data takes either kind of store.
  EXPECT_EQ(open_training_source(d + "/s", 0, 7, CollatorOptions{})->get(3).tokens, a->get(3).tokens);
}

} // namespace
} // namespace glm3d
