// glm3d prep on 2 ranks: the store equals the one a single rank writes, and a bad file on
// one rank ends both ranks with the same error and nothing written.
#include "data/prep.h"
#include "data/token_store.h"
#include "data_fixture.h"

#include <gtest/gtest.h>
#include <mpi.h>

#include <filesystem>

namespace glm3d {
namespace {

namespace fs = std::filesystem;

std::string shared_dir() {
  // Rank 0 picks the directory; every rank uses it (one machine, one filesystem).
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string d = rank == 0 ? test::temp_dir("mpi") : std::string(256, '\0');
  d.resize(256, '\0');
  MPI_Bcast(d.data(), 256, MPI_CHAR, 0, MPI_COMM_WORLD);
  return d.c_str();
}

TEST(PrepMpi, TwoRanksWriteTheSameStoreAsOne) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const std::string d = shared_dir();
  if (rank == 0)
    for (int f = 0; f < 3; ++f)
      test::write_text_file(d + "/in" + std::to_string(f) + ".txt", test::bilingual_docs(60, 40 + f));
  MPI_Barrier(MPI_COMM_WORLD);
  PrepOptions o;
  o.inputs = {d + "/in0.txt", d + "/in1.txt", d + "/in2.txt"};
  o.tokenizer_path = test::tokenizer_path(); // each rank trains the same fixture, loads its own copy
  o.shard_tokens = 1500;
  o.out_dir = d + "/two";
  const PrepResult r = run_prep(o, MPI_COMM_WORLD);
  EXPECT_EQ(r.files, 3u);
  if (rank == 0) {
    o.out_dir = d + "/one";
    run_prep(o, MPI_COMM_SELF);
    EXPECT_EQ(test::read_bytes(d + "/one/manifest.txt"), test::read_bytes(d + "/two/manifest.txt"));
    const TokenStore a = TokenStore::open(d + "/one"), b = TokenStore::open(d + "/two");
    std::vector<uint32_t> ta(a.total_tokens()), tb(b.total_tokens());
    a.read(0, ta.size(), ta.data());
    b.read(0, tb.size(), tb.data());
    EXPECT_EQ(ta, tb);
  }
}

TEST(PrepMpi, BadFileOnOneRankFailsEveryRankCleanly) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const std::string d = shared_dir();
  if (rank == 0) {
    test::write_text_file(d + "/good.txt", test::bilingual_docs(20, 1));
    test::write_bytes(d + "/bad.txt", "text \xC3 more\n");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  PrepOptions o;
  o.inputs = {d + "/good.txt", d + "/bad.txt"}; // bad.txt is rank 1's
  o.tokenizer_path = test::tokenizer_path();
  o.out_dir = d + "/store";
  std::string msg = "no UsageError";
  try {
    run_prep(o, MPI_COMM_WORLD);
  } catch (const UsageError& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("input file " + d + "/bad.txt: invalid UTF-8 at byte 5"), std::string::npos) << msg;
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_FALSE(fs::exists(o.out_dir));
  for (const auto& e : fs::directory_iterator(d))
    EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos);
}

} // namespace
} // namespace glm3d
