#pragma once
// Communicator: the one interface for collectives and point-to-point transfers
// inside a process group. MPI implementation on the CPU (parallel/mpi_communicator.h),
// NCCL later; LocalCommunicator is the size-1 group (no MPI needed).
// Every call counts the payload bytes it moves (count * element size, once per call
// on this rank) so tests can compare against closed-form per-layout counts.
#include "core/dtype.h"
#include "parallel/op_tracker.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace glm3d {

enum class ReduceOp { sum, max };

// A pending non-blocking operation. wait() completes it; the destructor waits too.
class Request {
public:
  virtual ~Request() = default;
  virtual void wait() = 0;
  // True once the operation has completed (then wait() returns at once); never blocks.
  // The default is for requests that complete when posted.
  virtual bool test() { return true; }
};
using RequestPtr = std::unique_ptr<Request>;

class Communicator {
public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0; // "tp", "dp", "pp", "embedding", "world", ...

  // In place over `count` elements of `buf`.
  virtual void all_reduce(void* buf, size_t count, DType dt, ReduceOp op) = 0;
  virtual RequestPtr iall_reduce(void* buf, size_t count, DType dt, ReduceOp op) = 0;
  // send holds size()*recv_count elements; this rank receives block rank().
  virtual void reduce_scatter(const void* send, void* recv, size_t recv_count, DType dt, ReduceOp op) = 0;
  // recv holds size()*send_count elements, block r from rank r.
  virtual void all_gather(const void* send, void* recv, size_t send_count, DType dt) = 0;
  virtual void broadcast(void* buf, size_t count, DType dt, int root) = 0;
  virtual RequestPtr isend(const void* buf, size_t count, DType dt, int peer, int tag) = 0;
  virtual RequestPtr irecv(void* buf, size_t count, DType dt, int peer, int tag) = 0;
  virtual void barrier() = 0;

  // Payload bytes moved by this rank through this communicator since construction / reset.
  uint64_t bytes_moved() const { return bytes_; }
  void reset_bytes() { bytes_ = 0; }

  // Hang diagnosis: with a tracker set, each blocking call and each wait on a request
  // records itself there while it blocks (null: nothing is recorded). Not owned.
  void set_tracker(OpTracker* t) { tracker_ = t; }
  OpTracker* tracker() const { return tracker_; }

  template <class T> void all_reduce(T* buf, size_t count, ReduceOp op = ReduceOp::sum) {
    all_reduce(static_cast<void*>(buf), count, dtype_of<T>(), op);
  }

protected:
  void count_bytes(size_t count, DType dt) { bytes_ += uint64_t(count) * dtype_size(dt); }

private:
  uint64_t bytes_ = 0;
  OpTracker* tracker_ = nullptr;
};

// The group of one: every collective is the identity (copies where send != recv) and
// moves no bytes (bytes_moved() stays 0). isend/irecv to peer 0 loop back to itself,
// matched by tag in posting order; a receive must not outlive the communicator.
class LocalCommunicator final : public Communicator {
public:
  explicit LocalCommunicator(std::string name = "local") : name_(std::move(name)) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return name_; }
  void all_reduce(void*, size_t, DType, ReduceOp) override {}
  RequestPtr iall_reduce(void*, size_t, DType, ReduceOp) override;
  void reduce_scatter(const void* send, void* recv, size_t recv_count, DType dt, ReduceOp) override;
  void all_gather(const void* send, void* recv, size_t send_count, DType dt) override;
  void broadcast(void*, size_t, DType, int) override {}
  RequestPtr isend(const void*, size_t, DType, int, int) override;
  RequestPtr irecv(void*, size_t, DType, int, int) override;
  void barrier() override {}

  using Communicator::all_reduce;

private:
  class RecvRequest;
  struct Message {
    int tag;
    std::vector<uint8_t> data;
  };
  void forget(RecvRequest* r);

  std::string name_;
  std::vector<Message> mailbox_;         // sent, not yet received
  std::vector<RecvRequest*> open_recvs_; // posted, not yet matched
};

} // namespace glm3d
