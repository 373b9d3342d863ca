#include "parallel/loopback_communicator.h"

#include "core/check.h"

#include <cstring>

namespace glm3d {

namespace {
class DoneRequest final : public Request {
public:
  void wait() override {}
};
} // namespace

// Groups of one move nothing (as the trainer's LocalCommunicator); larger ones count like MPI.
void LoopbackCommunicator::tally(size_t n, DType dt) {
  if (size_ > 1)
    count_bytes(n, dt);
}

LoopbackCommunicator::LoopbackCommunicator(std::string name, int size, int rank)
    : name_(std::move(name)), size_(size), rank_(rank) {
  GLM3D_CHECK(size >= 1 && rank >= 0 && rank < size)
      << "loopback group " << name_ << ": rank " << rank << " of " << size;
}

void LoopbackCommunicator::all_reduce(void*, size_t count, DType dt, ReduceOp) {
  tally(count, dt);
}

RequestPtr LoopbackCommunicator::iall_reduce(void* buf, size_t count, DType dt, ReduceOp op) {
  all_reduce(buf, count, dt, op);
  return std::make_unique<DoneRequest>();
}

// This rank's block of the input becomes its result (in place: moved to the front).
void LoopbackCommunicator::reduce_scatter(const void* send, void* recv, size_t recv_count, DType dt,
                                          ReduceOp) {
  const size_t bytes = recv_count * dtype_size(dt);
  std::memmove(recv, static_cast<const uint8_t*>(send) + size_t(rank_) * bytes, bytes);
  tally(recv_count, dt);
}

// Every block of the output gets this rank's input (the peers' blocks are stand-ins).
void LoopbackCommunicator::all_gather(const void* send, void* recv, size_t send_count, DType dt) {
  const size_t bytes = send_count * dtype_size(dt);
  auto* out = static_cast<uint8_t*>(recv);
  const auto* own = out + size_t(rank_) * bytes;
  if (send != own)
    std::memmove(out + size_t(rank_) * bytes, send, bytes);
  for (int r = 0; r < size_; ++r)
    if (r != rank_)
      std::memcpy(out + size_t(r) * bytes, own, bytes);
  tally(send_count, dt);
}

void LoopbackCommunicator::broadcast(void*, size_t count, DType dt, int root) {
  GLM3D_CHECK(root >= 0 && root < size_)
      << name_ << ": broadcast root " << root << " outside group of " << size_;
  tally(count, dt);
}

RequestPtr LoopbackCommunicator::isend(const void*, size_t count, DType dt, int peer, int) {
  GLM3D_CHECK(peer >= 0 && peer < size_)
      << name_ << ": isend to peer " << peer << " outside group of " << size_;
  tally(count, dt);
  return std::make_unique<DoneRequest>();
}

// A stand-in peer sends zeros.
RequestPtr LoopbackCommunicator::irecv(void* buf, size_t count, DType dt, int peer, int) {
  GLM3D_CHECK(peer >= 0 && peer < size_)
      << name_ << ": irecv from peer " << peer << " outside group of " << size_;
  std::memset(buf, 0, count * dtype_size(dt));
  tally(count, dt);
  return std::make_unique<DoneRequest>();
}

} // namespace glm3d
