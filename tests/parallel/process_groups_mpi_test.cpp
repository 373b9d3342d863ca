// Under mpirun -n 8: the groups MPI_Comm_split carves match the group math, per rank.
#include "core/check.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/process_groups.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

// World ranks of the members of `c`, in group-rank order, found by an all-gather.
std::vector<int> members(Communicator& c, int world_rank) {
  std::vector<int32_t> out(size_t(c.size()), -1);
  const int32_t me = world_rank;
  c.all_gather(&me, out.data(), 1, DType::i32);
  return {out.begin(), out.end()};
}

void expect_groups_match_math(const ParallelDims& dims) {
  ProcessGroups g = ProcessGroups::create(MPI_COMM_WORLD, dims);
  int world_rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  ASSERT_EQ(g.rank, world_rank);
  EXPECT_EQ(members(*g.world, g.rank), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(members(*g.tp, g.rank), dims.tp_group(g.rank)) << dims.str();
  EXPECT_EQ(members(*g.dp, g.rank), dims.dp_group(g.rank)) << dims.str();
  EXPECT_EQ(members(*g.pp, g.rank), dims.pp_group(g.rank)) << dims.str();
  EXPECT_EQ(members(*g.model_parallel, g.rank), dims.model_parallel_group(g.rank)) << dims.str();
  EXPECT_EQ(g.tp->rank(), g.tp_rank());
  EXPECT_EQ(g.dp->rank(), g.dp_rank());
  EXPECT_EQ(g.pp->rank(), g.pp_rank());
  const auto emb = dims.embedding_group(g.rank);
  EXPECT_EQ(g.in_embedding_group(), !emb.empty());
  if (g.embedding) {
    EXPECT_EQ(members(*g.embedding, g.rank), emb) << dims.str();
  }
}

TEST(ProcessGroupsMpi, TwoByTwoByTwoMatchesGroupMath) {
  expect_groups_match_math(ParallelDims::make(8, 2, 2, 2));
}

TEST(ProcessGroupsMpi, Tp2Pp4MatchesGroupMath) {
  const ParallelDims dims = ParallelDims::make(8, 2, 4, 0);
  expect_groups_match_math(dims);
  int r = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  // Middle stages (pp ranks 1 and 2 = world ranks 2..5) hold no embedding communicator.
  ProcessGroups g = ProcessGroups::create(MPI_COMM_WORLD, dims);
  EXPECT_EQ(g.embedding == nullptr, r >= 2 && r <= 5);
}

TEST(ProcessGroupsMpi, WrongWorldSizeIsUsageError) {
  EXPECT_THROW(ProcessGroups::create(MPI_COMM_WORLD, ParallelDims::make(4, 2, 2, 1)), UsageError);
}

TEST(ProcessGroupsMpi, BytesByGroupCountsEachGroupSeparately) {
  ProcessGroups g = ProcessGroups::create(MPI_COMM_WORLD, ParallelDims::make(8, 2, 2, 2));
  std::vector<float> x(3, 1.0f);
  g.tp->all_reduce(x.data(), 3);
  std::vector<double> y(5, 1.0);
  g.dp->all_reduce(y.data(), 5);
  g.dp->all_reduce(y.data(), 5);
  EXPECT_EQ(x[0], 2.0f);
  EXPECT_EQ(y[0], 4.0);
  auto bytes = g.bytes_by_group();
  EXPECT_EQ(bytes["tp"], 12u);
  EXPECT_EQ(bytes["dp"], 80u);
  EXPECT_EQ(bytes["pp"], 0u);
  EXPECT_EQ(bytes["world"], 0u);
  EXPECT_EQ(bytes["embedding"], 0u);
  g.reset_bytes();
  EXPECT_EQ(g.bytes_by_group()["dp"], 0u);
}

TEST(MpiCheck, ThrowsWithFileLineAndMpiMessage) {
  auto world = MpiCommunicator::dup(MPI_COMM_WORLD, "world");
  float x = 0;
  try {
    world->irecv(&x, 1, DType::f32, 99, 0); // no rank 99 in a world of 8
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("mpi_communicator.cpp:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("MPI_Irecv"), std::string::npos) << msg;
    EXPECT_NE(msg.find("MPI_ERR_RANK"), std::string::npos) << msg;
  }
  EXPECT_THROW(MPI_CHECK(MPI_ERR_COUNT), Error);
}

} // namespace
} // namespace glm3d
