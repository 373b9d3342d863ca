// Under mpirun -n 8: the ring all-reduce and in-place reduce-scatter (parallel/ring_collectives.h)
// against closed forms on counts that the ranks do not divide (empty last blocks included),
// with a chunk smaller than a block (several exchanges per step), for sum and max, f32, f64 and
// bf16; through MpiCommunicator for messages large enough to take the ring; and the memory
// bound that is their reason to exist.
#include "core/process_memory.h"
#include "parallel/mpi_communicator.h"
#include "parallel/ring_collectives.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

// Rank r contributes (r + 1) * (i % 13 + 1) at element i: exact in every type up to 8 ranks.
template <class T> std::vector<T> contribution(size_t count, int r) {
  std::vector<T> v(count);
  for (size_t i = 0; i < count; ++i)
    v[i] = T(float((r + 1) * int(i % 13 + 1)));
  return v;
}

template <class T> RingArgs args(MPI_Datatype t, MPI_Op op, size_t chunk) {
  return RingArgs{MPI_COMM_WORLD, world_rank(), world_size(), t, sizeof(T), op, chunk};
}

TEST(RingCollectives, AllReduceSumAndMaxOnUnevenCounts) {
  const int n = world_size();
  ASSERT_EQ(n, 8);
  for (size_t count : {size_t(1), size_t(7), size_t(8), size_t(61), size_t(1000)}) {
    for (size_t chunk : {size_t(3), size_t(1) << 20}) {
      std::vector<double> s = contribution<double>(count, world_rank()), m = s;
      ring_all_reduce(s.data(), count, args<double>(MPI_DOUBLE, MPI_SUM, chunk));
      ring_all_reduce(m.data(), count, args<double>(MPI_DOUBLE, MPI_MAX, chunk));
      for (size_t i = 0; i < count; ++i) {
        ASSERT_EQ(s[i], double(n * (n + 1) / 2 * int(i % 13 + 1))) << "count " << count << " chunk " << chunk;
        ASSERT_EQ(m[i], double(n * int(i % 13 + 1))) << "count " << count << " chunk " << chunk;
      }
    }
  }
}

TEST(RingCollectives, ReduceScatterLeavesEachRankItsBlock) {
  const int n = world_size(), r = world_rank();
  const size_t count = 8 * 37;
  std::vector<float> x = contribution<float>(count, r);
  ring_reduce_scatter(x.data(), count, args<float>(MPI_FLOAT, MPI_SUM, 5));
  size_t b, e;
  ring_block(count, n, r, b, e);
  ASSERT_EQ(e - b, 37u);
  for (size_t i = b; i < e; ++i)
    ASSERT_EQ(x[i], float(n * (n + 1) / 2 * int(i % 13 + 1))) << i;
}

// Through the communicator: large enough for the ring, in place, bf16 reduced in f32 and rounded.
TEST(RingCollectives, CommunicatorTakesTheRingForLargeMessages) {
  auto comm = MpiCommunicator::dup(MPI_COMM_WORLD, "world");
  const int n = comm->size(), r = comm->rank();
  const size_t shard = size_t(1) << 17, count = shard * size_t(n); // above the ring threshold
  std::vector<float> g = contribution<float>(count, r);
  comm->reduce_scatter(g.data(), g.data(), shard, DType::f32, ReduceOp::sum);
  for (size_t i = 0; i < shard; ++i) // this rank's block, moved to the start (MPI_IN_PLACE's rule)
    ASSERT_EQ(g[i], float(n * (n + 1) / 2 * int((size_t(r) * shard + i) % 13 + 1))) << i;
  EXPECT_EQ(comm->bytes_moved(), shard * 4);
  // bf16 partial sums stay below 256 (integers there are exact in bf16's 8 significant bits).
  std::vector<bf16> h(count);
  for (size_t i = 0; i < count; ++i)
    h[i] = bf16(float((r + 1) * int(i % 3 + 1)));
  comm->all_reduce(h.data(), count, DType::bf16, ReduceOp::sum);
  for (size_t i = 0; i < count; i += 997)
    ASSERT_EQ(float(h[i]), float(n * (n + 1) / 2 * int(i % 3 + 1))) << i;
}

// The point of the rings: an in-place reduce-scatter of 64 MB raises the peak resident set by
// about one chunk (4 MB), where MPI_Reduce_scatter_block raised it by 2-4 times the buffer here.
TEST(RingCollectives, InPlaceReduceScatterNeedsNoBufferSizedTemporary) {
  auto comm = MpiCommunicator::dup(MPI_COMM_WORLD, "world");
  const size_t count = size_t(16) << 20, shard = count / size_t(comm->size());
  std::vector<float> g(count, 1.0f);
  const int64_t before = peak_rss_bytes();
  comm->reduce_scatter(g.data(), g.data(), shard, DType::f32, ReduceOp::sum);
  const int64_t grew = peak_rss_bytes() - before;
  EXPECT_LT(grew, int64_t(16) << 20) << "peak RSS grew by " << grew << " bytes around a 64 MB reduce-scatter";
  EXPECT_EQ(g[0], float(comm->size()));
}

} // namespace
} // namespace glm3d
