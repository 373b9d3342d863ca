// Under mpirun -n 8: every MpiCommunicator collective against its closed form per rank, in f32
// and f64 (rank r contributes (r+1)*(i+1) at element i), and the byte counters per call.
#include "parallel/mpi_communicator.h"
#include "parallel/process_groups.h"

#include <gtest/gtest.h>
#include <numeric>

namespace glm3d {
namespace {

template <class T> class CollectivesMpi : public ::testing::Test {
protected:
  void SetUp() override {
    comm = MpiCommunicator::dup(MPI_COMM_WORLD, "world");
    r = comm->rank();
    n = comm->size();
    ASSERT_EQ(n, 8);
  }
  std::unique_ptr<MpiCommunicator> comm;
  int r = 0, n = 0;
  static constexpr DType dt = dtype_of<T>();
  // sum over ranks of (rank+1) = n(n+1)/2
  T tri() const { return T(n * (n + 1) / 2); }
};

using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CollectivesMpi, Types);

TYPED_TEST(CollectivesMpi, AllReduceSumAndMax) {
  using T = TypeParam;
  const size_t k = 5;
  std::vector<T> s(k), m(k);
  for (size_t i = 0; i < k; ++i)
    s[i] = m[i] = T((this->r + 1) * (i + 1));
  this->comm->all_reduce(s.data(), k, ReduceOp::sum);
  EXPECT_EQ(this->comm->bytes_moved(), k * sizeof(T));
  this->comm->all_reduce(m.data(), k, ReduceOp::max);
  EXPECT_EQ(this->comm->bytes_moved(), 2 * k * sizeof(T));
  for (size_t i = 0; i < k; ++i) {
    EXPECT_EQ(s[i], this->tri() * T(i + 1)) << i;
    EXPECT_EQ(m[i], T(this->n * (i + 1))) << i;
  }
}

TYPED_TEST(CollectivesMpi, IallReduceCompletesOnWait) {
  using T = TypeParam;
  std::vector<T> x(7, T(this->r + 1));
  {
    RequestPtr req = this->comm->iall_reduce(x.data(), 7, this->dt, ReduceOp::sum);
    req->wait();
  }
  for (T v : x)
    EXPECT_EQ(v, this->tri());
  std::vector<T> y(3, T(this->r + 1));
  { RequestPtr req = this->comm->iall_reduce(y.data(), 3, this->dt, ReduceOp::max); } // destructor waits
  for (T v : y)
    EXPECT_EQ(v, T(this->n));
  EXPECT_EQ(this->comm->bytes_moved(), 10 * sizeof(T));
}

TYPED_TEST(CollectivesMpi, ReduceScatterGivesEachRankItsReducedBlock) {
  using T = TypeParam;
  const size_t k = 3;
  std::vector<T> send(k * size_t(this->n)), recv(k, T(-1));
  for (size_t j = 0; j < send.size(); ++j)
    send[j] = T((this->r + 1) * (j + 1));
  this->comm->reduce_scatter(send.data(), recv.data(), k, this->dt, ReduceOp::sum);
  EXPECT_EQ(this->comm->bytes_moved(), k * sizeof(T));
  for (size_t i = 0; i < k; ++i)
    EXPECT_EQ(recv[i], this->tri() * T(this->r * k + i + 1)) << i;
  this->comm->reduce_scatter(send.data(), recv.data(), k, this->dt, ReduceOp::max);
  for (size_t i = 0; i < k; ++i)
    EXPECT_EQ(recv[i], T(this->n * (this->r * k + i + 1))) << i;
  // In place: the block lands at the start of the buffer.
  this->comm->reduce_scatter(send.data(), send.data(), k, this->dt, ReduceOp::sum);
  for (size_t i = 0; i < k; ++i)
    EXPECT_EQ(send[i], this->tri() * T(this->r * k + i + 1)) << i;
}

TYPED_TEST(CollectivesMpi, AllGatherPlacesBlockOfRankBAtB) {
  using T = TypeParam;
  const size_t k = 4;
  std::vector<T> send(k), recv(k * size_t(this->n), T(-1));
  for (size_t i = 0; i < k; ++i)
    send[i] = T(this->r * 100 + int(i));
  this->comm->all_gather(send.data(), recv.data(), k, this->dt);
  EXPECT_EQ(this->comm->bytes_moved(), k * sizeof(T));
  for (int b = 0; b < this->n; ++b)
    for (size_t i = 0; i < k; ++i)
      EXPECT_EQ(recv[b * k + i], T(b * 100 + int(i)));
  // In place: this rank's block of recv is the send buffer (the ZeRO-1 parameter shard).
  std::vector<T> buf(k * size_t(this->n), T(-1));
  for (size_t i = 0; i < k; ++i)
    buf[this->r * k + i] = T(this->r * 100 + int(i));
  this->comm->all_gather(buf.data() + this->r * k, buf.data(), k, this->dt);
  EXPECT_EQ(buf, recv);
}

TYPED_TEST(CollectivesMpi, BroadcastFromRoot) {
  using T = TypeParam;
  std::vector<T> x(6, T(-1));
  if (this->r == 3)
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = T(7.5 + i);
  this->comm->broadcast(x.data(), x.size(), this->dt, 3);
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_EQ(x[i], T(7.5 + i));
  EXPECT_EQ(this->comm->bytes_moved(), 6 * sizeof(T));
}

TYPED_TEST(CollectivesMpi, IsendIrecvRing) {
  using T = TypeParam;
  const int next = (this->r + 1) % this->n, prev = (this->r + this->n - 1) % this->n;
  std::vector<T> out(9), in(9, T(-1));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = T(this->r * 10 + int(i));
  RequestPtr rr = this->comm->irecv(in.data(), in.size(), this->dt, prev, 42);
  RequestPtr sr = this->comm->isend(out.data(), out.size(), this->dt, next, 42);
  rr->wait();
  sr->wait();
  for (size_t i = 0; i < in.size(); ++i)
    EXPECT_EQ(in[i], T(prev * 10 + int(i)));
  EXPECT_EQ(this->comm->bytes_moved(), 2 * 9 * sizeof(T)); // the send and the receive each count
}

TEST(CollectivesMpiBf16, AllReduceSumAndMaxInBf16) {
  auto comm = MpiCommunicator::dup(MPI_COMM_WORLD, "world");
  const int r = comm->rank();
  std::vector<bf16> s(4, bf16(float(r + 1))), m(4, bf16(float(r + 1) * 0.5f));
  comm->all_reduce(s.data(), 4, DType::bf16, ReduceOp::sum);
  comm->all_reduce(m.data(), 4, DType::bf16, ReduceOp::max);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(float(s[i]), 36.0f);
    EXPECT_EQ(float(m[i]), 4.0f);
  }
  EXPECT_EQ(comm->bytes_moved(), 2 * 4 * sizeof(bf16));
}

TEST(CollectivesMpiGroups, AllReduceStaysInsideEachGroup) {
  ProcessGroups g = ProcessGroups::create(MPI_COMM_WORLD, ParallelDims::make(8, 2, 2, 2));
  const auto expect = [&](Communicator& c, const std::vector<int>& group) {
    double x = g.rank + 1;
    c.all_reduce(&x, 1);
    EXPECT_EQ(x, std::accumulate(group.begin(), group.end(), 0.0) + double(group.size())) << c.name();
  };
  expect(*g.tp, g.dims.tp_group(g.rank));
  expect(*g.dp, g.dims.dp_group(g.rank));
  expect(*g.pp, g.dims.pp_group(g.rank));
  expect(*g.model_parallel, g.dims.model_parallel_group(g.rank));
  expect(*g.embedding, g.dims.embedding_group(g.rank));
}

} // namespace
} // namespace glm3d
