#pragma once
// NcclCommunicator: the Communicator over an NCCL communicator, for device buffers
// (compiled only with GLM3D_CUDA; library glm3d_parallel_cuda). One per process group: the
// NCCL unique id is made on group rank 0 and broadcast over the group's MPI communicator
// (parallel/unique_id.h), then every rank joins with ncclCommInitRank on its current device.
//
// Streams: every operation is queued on streams.comm() after the work already queued on
// streams.compute() (so it reads finished gradients), and never blocks the host:
//   - blocking calls (all_reduce, reduce_scatter, all_gather, broadcast) return once queued,
//     with compute ordered after them: later kernels on compute see the result;
//   - iall_reduce / isend / irecv return a request; wait() orders compute after the
//     operation (the host reads device results only after synchronising compute), test()
//     asks whether it has finished. Backward goes on on compute while the comm stream reduces.
//   - barrier() waits on the host for the comm stream, then MPI_Barrier.
// p2p: NCCL matches sends and receives between two ranks in posting order; `tag` is not
// used. A send blocks the comm stream until the peer receives, so a rank that both sends
// and receives in one step must post them between group_start() and group_end().
//
// Byte counting is that of MpiCommunicator: `count` times the element size, once per call
// (reduce_scatter: recv_count; all_gather: send_count), nothing in a group of one.
#include "core/cuda/streams.h"
#include "parallel/communicator.h"

#include <mpi.h>
#include <nccl.h>

#include <memory>
#include <vector>

namespace glm3d {

ncclDataType_t nccl_datatype(DType dt);

// The completion event of one queued operation (shared by its request and, inside a group,
// the communicator that records it at group_end).
struct NcclEvent {
  NcclEvent();
  ~NcclEvent();
  NcclEvent(const NcclEvent&) = delete;
  NcclEvent& operator=(const NcclEvent&) = delete;
  cudaEvent_t event = nullptr;
  bool recorded = false;
};

class NcclCommunicator final : public Communicator {
public:
  // Collective over `comm` (duplicated; the copy is owned). `streams` must outlive this.
  NcclCommunicator(MPI_Comm comm, std::string name, cuda::Streams& streams);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return name_; }
  ncclComm_t handle() const { return nccl_; }

  void all_reduce(void* buf, size_t count, DType dt, ReduceOp op) override;
  RequestPtr iall_reduce(void* buf, size_t count, DType dt, ReduceOp op) override;
  void reduce_scatter(const void* send, void* recv, size_t recv_count, DType dt, ReduceOp op) override;
  void all_gather(const void* send, void* recv, size_t send_count, DType dt) override;
  void broadcast(void* buf, size_t count, DType dt, int root) override;
  RequestPtr isend(const void* buf, size_t count, DType dt, int peer, int tag) override;
  RequestPtr irecv(void* buf, size_t count, DType dt, int peer, int tag) override;
  void barrier() override;

  // Brackets p2p calls that must progress together (ncclGroupStart / ncclGroupEnd).
  void group_start();
  void group_end();

  using Communicator::all_reduce;

private:
  void before();        // comm stream waits for compute
  RequestPtr request(); // event on the comm stream, waited for by compute
  void count(size_t n, DType dt) {
    if (size_ > 1)
      count_bytes(n, dt);
  }

  MPI_Comm mpi_ = MPI_COMM_NULL;
  std::string name_;
  cuda::Streams& streams_;
  ncclComm_t nccl_ = nullptr;
  int rank_ = 0, size_ = 1;
  bool in_group_ = false;
  std::vector<std::shared_ptr<NcclEvent>> pending_; // requests made inside the open group
};

} // namespace glm3d
