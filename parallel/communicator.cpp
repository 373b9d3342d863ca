// LocalCommunicator: the group of one. Collectives are the identity; point-to-point
// is a loop-back to rank 0 (itself), matched by tag in posting order like MPI.
#include "parallel/communicator.h"

#include "core/check.h"

#include <cstring>

namespace glm3d {

namespace {

class DoneRequest final : public Request {
public:
  void wait() override {}
};

} // namespace

// A receive posted before its send: completed by the matching isend, or by wait()
// if the send arrives first (then the message sits in the mailbox).
class LocalCommunicator::RecvRequest final : public Request {
public:
  RecvRequest(LocalCommunicator& comm, void* buf, size_t bytes, int tag)
      : comm(comm), buf(buf), bytes(bytes), tag(tag) {}
  ~RecvRequest() override {
    if (!done)
      comm.forget(this);
  }
  bool test() override { return done; }
  void wait() override {
    if (done)
      return;
    // The only sender is this process, so a receive still open here can never complete.
    GLM3D_FAIL() << "LocalCommunicator '" << comm.name() << "': wait on a receive with tag " << tag
                 << " that no isend has matched (a group of one can only send to itself)";
  }

  LocalCommunicator& comm;
  void* buf;
  size_t bytes;
  int tag;
  bool done = false;
};

RequestPtr LocalCommunicator::iall_reduce(void*, size_t, DType, ReduceOp) {
  return std::make_unique<DoneRequest>();
}

void LocalCommunicator::reduce_scatter(const void* send, void* recv, size_t recv_count, DType dt, ReduceOp) {
  if (send != recv)
    std::memmove(recv, send, recv_count * dtype_size(dt));
}

void LocalCommunicator::all_gather(const void* send, void* recv, size_t send_count, DType dt) {
  if (send != recv)
    std::memmove(recv, send, send_count * dtype_size(dt));
}

RequestPtr LocalCommunicator::isend(const void* buf, size_t count, DType dt, int peer, int tag) {
  GLM3D_CHECK(peer == 0) << "LocalCommunicator '" << name_ << "' has one rank, isend to peer " << peer;
  const size_t bytes = count * dtype_size(dt);
  for (auto it = open_recvs_.begin(); it != open_recvs_.end(); ++it) {
    RecvRequest* r = *it;
    if (r->tag != tag)
      continue;
    GLM3D_CHECK(r->bytes >= bytes) << "LocalCommunicator '" << name_ << "': message of " << bytes
                                   << " bytes for a receive of " << r->bytes << " bytes (tag " << tag << ")";
    std::memcpy(r->buf, buf, bytes);
    r->done = true;
    open_recvs_.erase(it);
    return std::make_unique<DoneRequest>();
  }
  const auto* p = static_cast<const uint8_t*>(buf);
  mailbox_.push_back({tag, std::vector<uint8_t>(p, p + bytes)});
  return std::make_unique<DoneRequest>();
}

RequestPtr LocalCommunicator::irecv(void* buf, size_t count, DType dt, int peer, int tag) {
  GLM3D_CHECK(peer == 0) << "LocalCommunicator '" << name_ << "' has one rank, irecv from peer " << peer;
  const size_t bytes = count * dtype_size(dt);
  auto req = std::make_unique<RecvRequest>(*this, buf, bytes, tag);
  for (auto it = mailbox_.begin(); it != mailbox_.end(); ++it) {
    if (it->tag != tag)
      continue;
    GLM3D_CHECK(it->data.size() <= bytes)
        << "LocalCommunicator '" << name_ << "': message of " << it->data.size() << " bytes for a receive of "
        << bytes << " bytes (tag " << tag << ")";
    std::memcpy(buf, it->data.data(), it->data.size());
    req->done = true;
    mailbox_.erase(it);
    return req;
  }
  open_recvs_.push_back(req.get());
  return req;
}

void LocalCommunicator::forget(RecvRequest* r) {
  std::erase(open_recvs_, r);
}

} // namespace glm3d
