#pragma once
// MpiCommunicator: the Communicator over an MPI communicator it owns (MPI_Comm_free in
// the destructor, so destroy it before MPI_Finalize). Errors are returned, not fatal:
// every call goes through MPI_CHECK and throws glm3d::Error with MPI's message.
//
// Byte counting (bytes_moved()): each call adds its `count` argument times the element
// size, once, on this rank: all_reduce/iall_reduce `count`, reduce_scatter `recv_count`
// (this rank's block), all_gather `send_count` (this rank's block), broadcast `count`,
// isend and irecv `count` each. A group of one moves nothing and counts 0, the same as
// LocalCommunicator.
#include "parallel/communicator.h"
#include "parallel/ring_collectives.h"

#include <mpi.h>

namespace glm3d {

MPI_Datatype mpi_datatype(DType dt); // bf16 travels as MPI_UINT16_T

class MpiCommunicator final : public Communicator {
public:
  // Takes ownership of `comm` (not MPI_COMM_WORLD/MPI_COMM_SELF: pass a dup, see dup()).
  MpiCommunicator(MPI_Comm comm, std::string name);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  // A communicator over a duplicate of `comm` (e.g. MPI_COMM_WORLD).
  static std::unique_ptr<MpiCommunicator> dup(MPI_Comm comm, std::string name);

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return name_; }
  MPI_Comm comm() const { return comm_; }
  int max_tag() const { return tag_ub_; }

  void all_reduce(void* buf, size_t count, DType dt, ReduceOp op) override;
  RequestPtr iall_reduce(void* buf, size_t count, DType dt, ReduceOp op) override;
  void reduce_scatter(const void* send, void* recv, size_t recv_count, DType dt, ReduceOp op) override;
  void all_gather(const void* send, void* recv, size_t send_count, DType dt) override;
  void broadcast(void* buf, size_t count, DType dt, int root) override;
  RequestPtr isend(const void* buf, size_t count, DType dt, int peer, int tag) override;
  RequestPtr irecv(void* buf, size_t count, DType dt, int peer, int tag) override;
  void barrier() override;

  using Communicator::all_reduce;

private:
  static constexpr size_t kRingMinElems = size_t(1) << 16; // per rank: below, MPI_Allreduce
  MPI_Op mpi_op(ReduceOp op, DType dt) const;
  RingArgs ring(DType dt, ReduceOp op) const;
  CommOp comm_op(const char* kind, size_t count, int peer = -1, int tag = -1) const {
    return CommOp{kind, name_, rank_, size_, peer, tag, count};
  }
  void count(size_t n, DType dt) {
    if (size_ > 1)
      count_bytes(n, dt);
  }

  MPI_Comm comm_;
  std::string name_;
  int rank_ = 0, size_ = 1;
  int tag_ub_ = 32767;
  MPI_Op bf16_sum_ = MPI_OP_NULL, bf16_max_ = MPI_OP_NULL; // MPI has no bf16 arithmetic
};

} // namespace glm3d
