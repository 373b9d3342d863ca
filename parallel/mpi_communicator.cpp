// MpiCommunicator: collectives and point-to-point over an owned MPI communicator.
#include "parallel/mpi_communicator.h"

#include <cstring>

#include "parallel/mpi_check.h"

#include <algorithm>
#include <climits>

namespace glm3d {

namespace {

// The request of one non-blocking MPI call; waits in the destructor if nobody did, so
// a buffer is never released while MPI may still read or write it.
class MpiRequest final : public Request {
public:
  MpiRequest(MPI_Request r, OpTracker* tracker, CommOp op) : req_(r), tracker_(tracker), op_(std::move(op)) {}
  ~MpiRequest() override {
    // No throw from a destructor: an error here was already reported by the failing
    // peer or surfaces at the next checked call.
    if (req_ != MPI_REQUEST_NULL)
      MPI_Wait(&req_, MPI_STATUS_IGNORE);
  }
  void wait() override {
    if (req_ == MPI_REQUEST_NULL)
      return;
    TrackedOp tracked(tracker_, op_);
    MPI_CHECK(MPI_Wait(&req_, MPI_STATUS_IGNORE));
  }
  bool test() override {
    int done = 1;
    if (req_ != MPI_REQUEST_NULL)
      MPI_CHECK(MPI_Test(&req_, &done, MPI_STATUS_IGNORE));
    return done != 0;
  }

private:
  MPI_Request req_;
  OpTracker* tracker_; // may be null
  CommOp op_;          // what wait() blocks in, for the tracker
};

// bf16 reductions in f32 with round-to-nearest-even back to bf16.
void bf16_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const bf16*>(in);
  auto* b = static_cast<bf16*>(inout);
  for (int i = 0; i < *len; ++i)
    b[i] = bf16(float(a[i]) + float(b[i]));
}

void bf16_max(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const bf16*>(in);
  auto* b = static_cast<bf16*>(inout);
  for (int i = 0; i < *len; ++i)
    b[i] = bf16(std::max(float(a[i]), float(b[i])));
}

int as_int(size_t count) {
  GLM3D_CHECK(count <= size_t(INT_MAX)) << "MPI count " << count << " exceeds INT_MAX; split the buffer";
  return int(count);
}

} // namespace

MPI_Datatype mpi_datatype(DType dt) {
  switch (dt) {
  case DType::f32:
    return MPI_FLOAT;
  case DType::f64:
    return MPI_DOUBLE;
  case DType::bf16:
    return MPI_UINT16_T;
  case DType::i32:
    return MPI_INT32_T;
  case DType::i64:
    return MPI_INT64_T;
  case DType::u32:
    return MPI_UINT32_T;
  case DType::u64:
    return MPI_UINT64_T;
  case DType::u8:
    return MPI_UINT8_T;
  }
  GLM3D_FAIL() << "no MPI datatype for dtype " << int(dt);
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::string name) : comm_(comm), name_(std::move(name)) {
  GLM3D_CHECK(comm != MPI_COMM_NULL) << "MpiCommunicator '" << name_ << "' over MPI_COMM_NULL";
  GLM3D_CHECK(comm != MPI_COMM_WORLD && comm != MPI_COMM_SELF)
      << "MpiCommunicator '" << name_ << "' must own its communicator; use MpiCommunicator::dup";
  MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(comm_, &size_));
  int* tag_ub = nullptr;
  int flag = 0;
  MPI_CHECK(MPI_Comm_get_attr(comm_, MPI_TAG_UB, &tag_ub, &flag));
  if (flag)
    tag_ub_ = *tag_ub;
  MPI_CHECK(MPI_Op_create(&bf16_sum, 1, &bf16_sum_));
  MPI_CHECK(MPI_Op_create(&bf16_max, 1, &bf16_max_));
}

MpiCommunicator::~MpiCommunicator() {
  MPI_Op_free(&bf16_sum_);
  MPI_Op_free(&bf16_max_);
  MPI_Comm_free(&comm_);
}

std::unique_ptr<MpiCommunicator> MpiCommunicator::dup(MPI_Comm comm, std::string name) {
  MPI_Comm copy = MPI_COMM_NULL;
  MPI_CHECK(MPI_Comm_dup(comm, &copy));
  return std::make_unique<MpiCommunicator>(copy, std::move(name));
}

MPI_Op MpiCommunicator::mpi_op(ReduceOp op, DType dt) const {
  if (dt == DType::bf16)
    return op == ReduceOp::sum ? bf16_sum_ : bf16_max_;
  return op == ReduceOp::sum ? MPI_SUM : MPI_MAX;
}

RingArgs MpiCommunicator::ring(DType dt, ReduceOp op) const {
  return RingArgs{comm_, rank_, size_, mpi_datatype(dt), dtype_size(dt), mpi_op(op, dt)};
}

// Large messages go around the ring (parallel/ring_collectives.h: no message-sized temporary);
// small ones, where latency matters more, through MPI_Allreduce.
void MpiCommunicator::all_reduce(void* buf, size_t count, DType dt, ReduceOp op) {
  TrackedOp tracked(tracker(), comm_op("all_reduce", count));
  if (count >= kRingMinElems * size_t(size_))
    ring_all_reduce(buf, count, ring(dt, op));
  else
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, as_int(count), mpi_datatype(dt), mpi_op(op, dt), comm_));
  this->count(count, dt);
}

RequestPtr MpiCommunicator::iall_reduce(void* buf, size_t count, DType dt, ReduceOp op) {
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buf, as_int(count), mpi_datatype(dt), mpi_op(op, dt), comm_, &r));
  this->count(count, dt);
  return std::make_unique<MpiRequest>(r, tracker(), comm_op("wait(iall_reduce)", count));
}

void MpiCommunicator::reduce_scatter(const void* send, void* recv, size_t recv_count, DType dt, ReduceOp op) {
  TrackedOp tracked(tracker(), comm_op("reduce_scatter", recv_count));
  if (send == recv) {
    // In place, around the ring (no temporary the size of the buffer, as MPI's would take); this
    // rank's reduced block is then moved to the start of the buffer, as MPI_IN_PLACE defines.
    ring_reduce_scatter(recv, recv_count * size_t(size_), ring(dt, op));
    const size_t bytes = recv_count * dtype_size(dt);
    if (rank_ > 0)
      std::memmove(recv, static_cast<uint8_t*>(recv) + size_t(rank_) * bytes, bytes);
  } else {
    MPI_CHECK(
        MPI_Reduce_scatter_block(send, recv, as_int(recv_count), mpi_datatype(dt), mpi_op(op, dt), comm_));
  }
  count(recv_count, dt);
}

void MpiCommunicator::all_gather(const void* send, void* recv, size_t send_count, DType dt) {
  const MPI_Datatype t = mpi_datatype(dt);
  const int n = as_int(send_count);
  // send may alias this rank's block of recv (the ZeRO-1 parameter shard): MPI wants MPI_IN_PLACE then.
  const auto* block = static_cast<const uint8_t*>(recv) + size_t(rank_) * send_count * dtype_size(dt);
  TrackedOp tracked(tracker(), comm_op("all_gather", send_count));
  if (send == block)
    MPI_CHECK(MPI_Allgather(MPI_IN_PLACE, 0, t, recv, n, t, comm_));
  else
    MPI_CHECK(MPI_Allgather(send, n, t, recv, n, t, comm_));
  count(send_count, dt);
}

void MpiCommunicator::broadcast(void* buf, size_t count, DType dt, int root) {
  GLM3D_CHECK(root >= 0 && root < size_)
      << name_ << ": broadcast root " << root << " outside group of " << size_;
  TrackedOp tracked(tracker(), comm_op("broadcast", count, root));
  MPI_CHECK(MPI_Bcast(buf, as_int(count), mpi_datatype(dt), root, comm_));
  this->count(count, dt);
}

RequestPtr MpiCommunicator::isend(const void* buf, size_t count, DType dt, int peer, int tag) {
  GLM3D_CHECK(tag >= 0 && tag <= tag_ub_) << name_ << ": tag " << tag << " outside [0, " << tag_ub_ << "]";
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Isend(buf, as_int(count), mpi_datatype(dt), peer, tag, comm_, &r));
  this->count(count, dt);
  return std::make_unique<MpiRequest>(r, tracker(), comm_op("wait(isend)", count, peer, tag));
}

RequestPtr MpiCommunicator::irecv(void* buf, size_t count, DType dt, int peer, int tag) {
  GLM3D_CHECK(tag >= 0 && tag <= tag_ub_) << name_ << ": tag " << tag << " outside [0, " << tag_ub_ << "]";
  MPI_Request r = MPI_REQUEST_NULL;
  MPI_CHECK(MPI_Irecv(buf, as_int(count), mpi_datatype(dt), peer, tag, comm_, &r));
  this->count(count, dt);
  return std::make_unique<MpiRequest>(r, tracker(), comm_op("wait(irecv)", count, peer, tag));
}

void MpiCommunicator::barrier() {
  TrackedOp tracked(tracker(), comm_op("barrier", 0));
  MPI_CHECK(MPI_Barrier(comm_));
}

} // namespace glm3d
