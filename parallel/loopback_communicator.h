#pragma once
// LoopbackCommunicator: a stand-in for the other members of a group that do not exist, so one
// process can run one rank's real share of a large model (glm3d bench slice: tp rank 0 of a
// GLM-130B layer with tp 8). It reports size() peers, completes every collective locally and
// counts the payload bytes exactly as MpiCommunicator would for that group size; the values it
// leaves are meaningless (an all-reduce keeps this rank's own partial sum), the time and memory
// of the rank are real.
#include "parallel/communicator.h"

namespace glm3d {

class LoopbackCommunicator final : public Communicator {
public:
  LoopbackCommunicator(std::string name, int size, int rank = 0);
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return name_; }
  void all_reduce(void* buf, size_t count, DType dt, ReduceOp op) override;
  RequestPtr iall_reduce(void* buf, size_t count, DType dt, ReduceOp op) override;
  void reduce_scatter(const void* send, void* recv, size_t recv_count, DType dt, ReduceOp op) override;
  void all_gather(const void* send, void* recv, size_t send_count, DType dt) override;
  void broadcast(void* buf, size_t count, DType dt, int root) override;
  RequestPtr isend(const void* buf, size_t count, DType dt, int peer, int tag) override;
  RequestPtr irecv(void* buf, size_t count, DType dt, int peer, int tag) override;
  void barrier() override {}

  using Communicator::all_reduce;

private:
  void tally(size_t n, DType dt); // counts bytes as MpiCommunicator does for size() ranks
  std::string name_;
  int size_, rank_;
};

} // namespace glm3d
