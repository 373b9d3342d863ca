// glm3d prep as a library call (no mpirun: the group of one): contents of the store, the
// trained tokenizer, input formats, --overwrite's swap, and every bad-input case with nothing
// left behind.
#include "data/prep.h"
#include "data/prep_output.h"
#include "data/rng.h"
#include "data/token_store.h"
#include "data_fixture.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace glm3d {
namespace {

namespace fs = std::filesystem;

PrepOptions options(const std::vector<std::string>& inputs, const std::string& out) {
  PrepOptions o;
  o.inputs = inputs;
  o.out_dir = out;
  o.tokenizer_path = test::tokenizer_path();
  o.shard_tokens = 2000;
  return o;
}

TEST(Prep, StoreHoldsEveryDocumentThenEos) {
  const std::string d = test::temp_dir("prep");
  const auto docs_a = test::bilingual_docs(120, 11), docs_b = test::bilingual_docs(80, 12);
  test::write_text_file(d + "/a.txt", docs_a);
  test::write_jsonl_file(d + "/b.jsonl", docs_b);
  const PrepResult r = run_prep(options({d + "/a.txt", d + "/b.jsonl"}, d + "/store"), MPI_COMM_WORLD);
  EXPECT_EQ(r.files, 2u);
  EXPECT_EQ(r.docs, 200u);

  std::vector<uint32_t> expect;
  for (const auto* docs : {&docs_a, &docs_b})
    for (const auto& doc : *docs) {
      for (int32_t id : test::tokenizer().encode(doc))
        expect.push_back(uint32_t(id));
      expect.push_back(uint32_t(test::tokenizer().special().eos));
    }
  EXPECT_EQ(r.tokens, expect.size());
  const TokenStore store = TokenStore::open(d + "/store");
  ASSERT_EQ(store.total_tokens(), expect.size());
  std::vector<uint32_t> got(expect.size());
  store.read(0, got.size(), got.data());
  EXPECT_EQ(got, expect);
  // Shards close at the first document end past 2000 tokens; one file never shares a shard.
  EXPECT_GE(r.shards, expect.size() / 2500);
  for (const ShardInfo& s : store.manifest().shards)
    EXPECT_LT(s.n_tokens, 2000u + 200u) << s.file;
  EXPECT_EQ(store.manifest().shards.front().file, "shard-00000-0000.h5");
  EXPECT_EQ(store.manifest().shards.back().file.substr(0, 12), "shard-00001-");
  EXPECT_EQ(verify_store(d + "/store").docs, 200u);
  EXPECT_EQ(store.tokenizer().sha256(), test::tokenizer().sha256());
  // Nothing but the store is left in the parent directory.
  for (const auto& e : fs::directory_iterator(d))
    EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos);
}

// --valid-fraction: each document lands in exactly one of DIR and DIR/valid, chosen by
// KeyedRng(split_seed, file, document) alone; both are complete token stores.
TEST(Prep, ValidFractionHoldsOutDocumentsAsAStoreOfTheirOwn) {
  const std::string d = test::temp_dir("prep_valid");
  const auto docs_a = test::bilingual_docs(150, 21), docs_b = test::bilingual_docs(90, 22);
  test::write_text_file(d + "/a.txt", docs_a);
  test::write_jsonl_file(d + "/b.jsonl", docs_b);
  PrepOptions o = options({d + "/a.txt", d + "/b.jsonl"}, d + "/store");
  o.valid_fraction = 0.2;
  o.split_seed = 5;
  const PrepResult r = run_prep(o, MPI_COMM_WORLD);
  EXPECT_EQ(r.docs + r.valid_docs, 240u);
  EXPECT_GT(r.valid_docs, 24u); // Binomial(240, 0.2): 48 +- 6.2
  EXPECT_LT(r.valid_docs, 72u);
  std::vector<uint32_t> expect[2];
  const std::vector<std::string>* files[2] = {&docs_a, &docs_b};
  for (size_t f = 0; f < 2; ++f)
    for (size_t i = 0; i < files[f]->size(); ++i) {
      auto& out = expect[KeyedRng(5, f, i).uniform() < 0.2];
      for (int32_t id : test::tokenizer().encode((*files[f])[i]))
        out.push_back(uint32_t(id));
      out.push_back(uint32_t(test::tokenizer().special().eos));
    }
  for (int v = 0; v < 2; ++v) {
    const TokenStore store = TokenStore::open(v ? d + "/store/valid" : d + "/store");
    std::vector<uint32_t> got(store.total_tokens());
    store.read(0, got.size(), got.data());
    EXPECT_EQ(got, expect[v]) << (v ? "valid" : "train");
  }
  EXPECT_EQ(verify_store(d + "/store/valid").docs, r.valid_docs);
  o.valid_fraction = 1;
  o.out_dir = d + "/s1";
  EXPECT_THROW(run_prep(o, MPI_COMM_WORLD), UsageError);
}

TEST(Prep, TrainsABilingualTokenizerWithSpecialTokensAndByteFallback) {
  const std::string d = test::temp_dir("prep");
  test::write_text_file(d + "/a.txt", test::bilingual_docs(200, 3));
  PrepOptions o = options({d + "/a.txt"}, d + "/store");
  o.tokenizer_path.clear();
  o.train_tokenizer = true;
  o.train.vocab_size = 350;
  o.train.num_threads = 1;
  run_prep(o, MPI_COMM_WORLD);
  const TokenStore store = TokenStore::open(d + "/store");
  const Tokenizer& t = store.tokenizer();
  EXPECT_LE(t.vocab_size(), 350);
  const SpecialTokens s = t.special();
  EXPECT_EQ(t.piece(s.mask), "[MASK]");
  EXPECT_EQ(t.piece(s.gmask), "[gMASK]");
  EXPECT_EQ(t.piece(s.smask), "[sMASK]");
  EXPECT_EQ(t.piece(s.sop), "<sop>");
  EXPECT_EQ(t.piece(s.eop), "<eop>");
  EXPECT_EQ(t.piece(s.eos), "<eos>");
  EXPECT_EQ(t.piece(s.pad), "<pad>");
  // Seen and unseen text (a rare CJK character and a symbol go through byte fallback).
  for (const std::string text : {"the model learns 我们学习填空。", "龘 𝄞 zebra"}) {
    const auto ids = t.encode(text);
    EXPECT_EQ(t.decode(ids), text);
    for (int32_t id : ids)
      EXPECT_LT(id, t.vocab_size());
  }
  // A literal "[MASK]" in training text is text, not the mask token; prompts can ask for it.
  const auto literal = t.encode("[MASK]");
  EXPECT_EQ(std::count(literal.begin(), literal.end(), s.mask), 0);
  const auto prompt = t.encode_with_special_tokens("the cat [MASK] on the mat [gMASK]");
  EXPECT_EQ(std::count(prompt.begin(), prompt.end(), s.mask), 1);
  EXPECT_EQ(prompt.back(), s.gmask);
}

std::string prep_error(const PrepOptions& o) {
  try {
    run_prep(o, MPI_COMM_WORLD);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no UsageError";
}

// Each bad input: a UsageError naming the file, no output directory and no temp dir left.
void expect_clean_failure(const std::string& d, const PrepOptions& o, const std::string& needle) {
  const std::string e = prep_error(o);
  EXPECT_NE(e.find(needle), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(o.out_dir));
  for (const auto& entry : fs::directory_iterator(d))
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
}

TEST(PrepBadInput, EmptyInput) {
  const std::string d = test::temp_dir("bad");
  test::write_text_file(d + "/good.txt", test::bilingual_docs(10, 1));
  test::write_bytes(d + "/empty.txt", "");
  expect_clean_failure(d, options({d + "/good.txt", d + "/empty.txt"}, d + "/store"),
                       "input file " + d + "/empty.txt: no documents (empty input)");
  expect_clean_failure(d, options({}, d + "/store"), "no input files");
}

TEST(PrepBadInput, InvalidUtf8) {
  const std::string d = test::temp_dir("bad");
  test::write_bytes(d + "/bad.txt", "good text\n\nbad \xFF text\n");
  expect_clean_failure(d, options({d + "/bad.txt"}, d + "/store"),
                       "input file " + d + "/bad.txt: invalid UTF-8 at byte 15 (line 3)");
}

TEST(PrepBadInput, UnreadableFile) {
  const std::string d = test::temp_dir("bad");
  expect_clean_failure(d, options({d + "/missing.txt"}, d + "/store"),
                       "cannot read input file " + d + "/missing.txt");
  fs::create_directory(d + "/a_directory");
  expect_clean_failure(d, options({d + "/a_directory"}, d + "/store"),
                       "input file " + d + "/a_directory is a directory");
}

TEST(PrepBadInput, BadTokenizerAndExistingOutput) {
  const std::string d = test::temp_dir("bad");
  test::write_text_file(d + "/good.txt", test::bilingual_docs(10, 1));
  PrepOptions o = options({d + "/good.txt"}, d + "/store");
  o.tokenizer_path = d + "/good.txt"; // not a model
  expect_clean_failure(d, o, "tokenizer " + d + "/good.txt is not a SentencePiece model");
  fs::create_directory(d + "/exists");
  const std::string e = prep_error(options({d + "/good.txt"}, d + "/exists"));
  EXPECT_NE(e.find(d + "/exists already exists"), std::string::npos) << e;
}

std::vector<uint32_t> store_tokens(const std::string& dir) {
  const TokenStore store = TokenStore::open(dir);
  std::vector<uint32_t> t(store.total_tokens());
  store.read(0, t.size(), t.data());
  return t;
}

// No DIR.tmp-* or DIR.old-* left next to the store.
void expect_no_leftovers(const std::string& d) {
  for (const auto& e : fs::directory_iterator(d)) {
    EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos) << e.path();
    EXPECT_EQ(e.path().string().find(".old-"), std::string::npos) << e.path();
  }
}

TEST(Prep, LinesAndGzipInputs) {
  const std::string d = test::temp_dir("formats");
  const auto docs = test::bilingual_docs(50, 31);
  std::string lines;
  for (std::string doc : docs) {
    std::replace(doc.begin(), doc.end(), '\n', ' ');
    lines += doc + "\n";
  }
  test::write_bytes(d + "/l.txt", lines);
  PrepOptions o = options({d + "/l.txt"}, d + "/lines");
  o.format = InputFormat::lines;
  EXPECT_EQ(run_prep(o, MPI_COMM_WORLD).docs, 50u);
  o.format = InputFormat::text; // the same file as blocks: one document
  o.out_dir = d + "/text";
  EXPECT_EQ(run_prep(o, MPI_COMM_WORLD).docs, 1u);
  // A gzip-compressed input gives the same store as the plain one.
  test::write_text_file(d + "/p.txt", docs);
  test::write_bytes(d + "/p.txt.gz", test::gzip(test::read_bytes(d + "/p.txt")));
  run_prep(options({d + "/p.txt"}, d + "/plain"), MPI_COMM_WORLD);
  run_prep(options({d + "/p.txt.gz"}, d + "/gz"), MPI_COMM_WORLD);
  EXPECT_EQ(test::read_bytes(d + "/plain/manifest.txt"), test::read_bytes(d + "/gz/manifest.txt"));
  EXPECT_EQ(store_tokens(d + "/plain"), store_tokens(d + "/gz"));
}

TEST(PrepOverwrite, ReplacesAStoreOnlyOnceTheNewOneIsComplete) {
  const std::string d = test::temp_dir("overwrite");
  test::write_text_file(d + "/a.txt", test::bilingual_docs(40, 1));
  test::write_text_file(d + "/b.txt", test::bilingual_docs(60, 2));
  run_prep(options({d + "/a.txt"}, d + "/store"), MPI_COMM_WORLD);
  run_prep(options({d + "/b.txt"}, d + "/expect_b"), MPI_COMM_WORLD);
  PrepOptions o = options({d + "/b.txt"}, d + "/store");
  o.overwrite = true;
  EXPECT_EQ(run_prep(o, MPI_COMM_WORLD).docs, 60u);
  EXPECT_EQ(store_tokens(d + "/store"), store_tokens(d + "/expect_b"));
  expect_no_leftovers(d);
  // A failing prep (bad input on the last file) leaves the old store whole.
  test::write_bytes(d + "/bad.txt", "bad \xFF\n");
  o.inputs = {d + "/a.txt", d + "/bad.txt"};
  EXPECT_NE(prep_error(o).find("invalid UTF-8"), std::string::npos);
  EXPECT_EQ(verify_store(d + "/store").docs, 60u);
  EXPECT_EQ(store_tokens(d + "/store"), store_tokens(d + "/expect_b"));
  expect_no_leftovers(d);
}

TEST(PrepOverwrite, RefusesWhatIsNotATokenStore) {
  const std::string d = test::temp_dir("overwrite_bad");
  test::write_text_file(d + "/a.txt", test::bilingual_docs(10, 1));
  PrepOptions o = options({d + "/a.txt"}, d + "/mine");
  o.overwrite = true;
  fs::create_directory(d + "/mine");
  test::write_bytes(d + "/mine/thesis.tex", "precious");
  EXPECT_EQ(prep_error(o), "glm3d prep: --overwrite replaces only a token store, and " + d +
                               "/mine has no manifest.txt; remove it yourself or choose another --out");
  EXPECT_EQ(test::read_bytes(d + "/mine/thesis.tex"), "precious");
  o.out_dir = d + "/notes.txt";
  test::write_bytes(o.out_dir, "precious");
  EXPECT_EQ(prep_error(o), "glm3d prep: --overwrite replaces only a token store, and " + d +
                               "/notes.txt is a file; remove it yourself or choose another --out");
  EXPECT_EQ(test::read_bytes(o.out_dir), "precious");
  fs::create_directory_symlink(d + "/mine", d + "/link");
  o.out_dir = d + "/link";
  EXPECT_NE(prep_error(o).find(d + "/link is a symbolic link"), std::string::npos);
  // An input inside the store it would replace.
  run_prep(options({d + "/a.txt"}, d + "/store"), MPI_COMM_WORLD);
  fs::copy_file(d + "/a.txt", d + "/store/a.txt");
  o.inputs = {d + "/store/a.txt"};
  o.out_dir = d + "/store/";
  EXPECT_EQ(prep_error(o), "glm3d prep: input file " + d + "/store/a.txt lies inside " + d +
                               "/store/, the store --overwrite would replace; move it out first");
  EXPECT_TRUE(fs::exists(d + "/store/a.txt"));
  expect_no_leftovers(d);
}

TEST(PrepOverwrite, SwapByRenamesWhereTheExchangeIsMissing) {
  const std::string d = test::temp_dir("renames");
  fs::create_directory(d + "/store");
  test::write_bytes(d + "/store/manifest.txt", "old");
  fs::create_directory(d + "/store.tmp-1");
  test::write_bytes(d + "/store.tmp-1/manifest.txt", "new");
  install_store_by_renames(d + "/store.tmp-1", d + "/store");
  EXPECT_EQ(test::read_bytes(d + "/store/manifest.txt"), "new");
  expect_no_leftovers(d);
  // The second rename fails (no new store): the old one is put back.
  try {
    install_store_by_renames(d + "/store.tmp-2", d + "/store");
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("(the old store is back in place)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(test::read_bytes(d + "/store/manifest.txt"), "new");
  expect_no_leftovers(d);
  // The exchange itself (renameat2) on this filesystem.
  fs::create_directory(d + "/store.tmp-3");
  test::write_bytes(d + "/store.tmp-3/manifest.txt", "newer");
  install_store(d + "/store.tmp-3", d + "/store");
  EXPECT_EQ(test::read_bytes(d + "/store/manifest.txt"), "newer");
  expect_no_leftovers(d);
}

TEST(PrepBadInput, TokenizerThreads) {
  const std::string d = test::temp_dir("threads");
  test::write_text_file(d + "/a.txt", test::bilingual_docs(10, 1));
  PrepOptions o = options({d + "/a.txt"}, d + "/store");
  o.train.num_threads = 0;
  expect_clean_failure(d, o, "glm3d prep: --tokenizer-threads must be in [1, 1024], got 0");
}

} // namespace
} // namespace glm3d
