// Under mpirun -n 4: share_unique_id (the NCCL id exchange, parallel/unique_id.h) with fake
// 128-byte ids, so it runs without a GPU. Groups of two (like tp = 2) each get their own
// root's id; a root whose id maker throws, or returns the wrong size, makes every rank of
// the group throw with the root's message instead of hanging.
#include "core/check.h"
#include "parallel/mpi_check.h"
#include "parallel/unique_id.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace glm3d {
namespace {

constexpr size_t kIdBytes = 128; // NCCL_UNIQUE_ID_BYTES

// A fake id that names the world rank that made it.
std::vector<uint8_t> fake_id(int maker) {
  std::vector<uint8_t> id(kIdBytes);
  for (size_t i = 0; i < kIdBytes; ++i)
    id[i] = uint8_t((maker * 31 + int(i) * 7) & 0xff);
  return id;
}

struct Split {
  MPI_Comm comm = MPI_COMM_NULL;
  int world = 0;
  explicit Split(int color) {
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &world));
    MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, color, world, &comm));
  }
  ~Split() { MPI_Comm_free(&comm); }
};

TEST(UniqueIdMpi, EveryRankGetsItsGroupRootsId) {
  int world = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ASSERT_EQ(size, 4);
  Split tp(world / 2); // {0,1}, {2,3}: roots are world ranks 0 and 2
  int calls = 0;
  const std::vector<uint8_t> id = share_unique_id(
      tp.comm, kIdBytes,
      [&] {
        ++calls;
        return fake_id(world);
      },
      "tp");
  EXPECT_EQ(id, fake_id(world / 2 * 2));
  EXPECT_EQ(calls, world % 2 == 0 ? 1 : 0); // made on group rank 0 only
}

TEST(UniqueIdMpi, WholeWorldSharesOneId) {
  int world = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world);
  Split all(0);
  EXPECT_EQ(share_unique_id(
                all.comm, kIdBytes, [&] { return fake_id(world); }, "world"),
            fake_id(0));
}

TEST(UniqueIdMpi, FailureOnTheRootReachesEveryRank) {
  int world = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world);
  Split dp(world % 2); // {0,2}, {1,3}
  const auto fail = [&]() -> std::vector<uint8_t> {
    throw std::runtime_error("ncclGetUniqueId: unhandled system error");
  };
  try {
    share_unique_id(dp.comm, kIdBytes, fail, "dp");
    FAIL() << "no error on world rank " << world;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("group 'dp'"), std::string::npos) << what;
    EXPECT_NE(what.find("unhandled system error"), std::string::npos) << what;
  }
}

TEST(UniqueIdMpi, WrongSizedIdIsRefusedEverywhere) {
  int world = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world);
  Split all(0);
  try {
    share_unique_id(
        all.comm, kIdBytes, [] { return std::vector<uint8_t>(64, 1); }, "world");
    FAIL() << "no error on world rank " << world;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("64 bytes, expected 128"), std::string::npos) << e.what();
  }
}

} // namespace
} // namespace glm3d
