// LocalCommunicator and ProcessGroups::local: identity collectives, loop-back p2p matched by
// tag, zero bytes counted.
#include "core/check.h"
#include "parallel/process_groups.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

TEST(LocalCommunicator, CollectivesAreIdentityCopies) {
  LocalCommunicator c("tp");
  std::vector<float> a{1, 2, 3}, b(3, 0);
  c.all_reduce(a.data(), 3, ReduceOp::sum);
  EXPECT_EQ(a, (std::vector<float>{1, 2, 3}));
  c.reduce_scatter(a.data(), b.data(), 3, DType::f32, ReduceOp::max);
  EXPECT_EQ(b, a);
  std::vector<double> d{4, 5}, e(2, 0);
  c.all_gather(d.data(), e.data(), 2, DType::f64);
  EXPECT_EQ(e, d);
  c.iall_reduce(a.data(), 3, DType::f32, ReduceOp::sum)->wait();
  EXPECT_EQ(c.bytes_moved(), 0u);
  EXPECT_EQ(c.name(), "tp");
}

TEST(LocalCommunicator, LoopBackMatchesByTagInEitherOrder) {
  LocalCommunicator c;
  std::vector<float> x{1, 2}, y{3, 4}, rx(2), ry(2);
  auto r1 = c.irecv(rx.data(), 2, DType::f32, 0, 11); // posted before its send
  c.isend(y.data(), 2, DType::f32, 0, 12)->wait();    // sent before its receive
  c.isend(x.data(), 2, DType::f32, 0, 11)->wait();
  auto r2 = c.irecv(ry.data(), 2, DType::f32, 0, 12);
  r1->wait();
  r2->wait();
  EXPECT_EQ(rx, x);
  EXPECT_EQ(ry, y);
  auto orphan = c.irecv(rx.data(), 2, DType::f32, 0, 13);
  EXPECT_THROW(orphan->wait(), Error);
  EXPECT_THROW(c.isend(x.data(), 2, DType::f32, 1, 0), Error);
}

TEST(ProcessGroups, LocalHasEveryGroupOfSizeOne) {
  ProcessGroups g = ProcessGroups::local(2);
  EXPECT_EQ(g.dims.str(), "tp=1 pp=1 dp=1 virtual_stages=2 (world 1)");
  for (Communicator* c : {g.world.get(), g.tp.get(), g.dp.get(), g.pp.get(), g.embedding.get()}) {
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->size(), 1);
  }
  EXPECT_TRUE(g.is_first_stage() && g.is_last_stage() && g.in_embedding_group());
  const auto bytes = g.bytes_by_group();
  EXPECT_EQ(bytes.size(), 6u);
  for (const auto& [name, b] : bytes)
    EXPECT_EQ(b, 0u) << name;
}

} // namespace
} // namespace glm3d
