// NcclCommunicator: NCCL collectives and p2p on the comm stream, ordered against compute by events.
#include "parallel/nccl_communicator.h"

#include "core/cuda/check.h"
#include "parallel/mpi_check.h"
#include "parallel/nccl_check.h"
#include "parallel/unique_id.h"

#include <cstring>

namespace glm3d {
namespace {

// An operation queued on the comm stream: its event orders compute after it. Inside
// group_start/group_end NCCL queues the operations only at group_end, so the event is
// recorded then (NcclCommunicator::group_end).
class StreamRequest final : public Request {
public:
  StreamRequest(std::shared_ptr<NcclEvent> event, cudaStream_t compute)
      : event_(std::move(event)), compute_(compute) {}
  ~StreamRequest() override {
    if (event_->recorded && !waited_)
      cudaStreamWaitEvent(compute_, event_->event, 0); // a dropped request still orders compute after it
  }
  void wait() override {
    GLM3D_CHECK(event_->recorded) << "wait on an NCCL request before group_end()";
    CUDA_CHECK(cudaStreamWaitEvent(compute_, event_->event, 0));
    waited_ = true;
  }
  bool test() override {
    if (!event_->recorded)
      return false;
    const cudaError_t rc = cudaEventQuery(event_->event);
    if (rc == cudaErrorNotReady)
      return false;
    CUDA_CHECK(rc);
    return true;
  }

private:
  std::shared_ptr<NcclEvent> event_;
  cudaStream_t compute_;
  bool waited_ = false;
};

ncclRedOp_t nccl_op(ReduceOp op) {
  return op == ReduceOp::sum ? ncclSum : ncclMax;
}

} // namespace

ncclDataType_t nccl_datatype(DType dt) {
  switch (dt) {
  case DType::f32:
    return ncclFloat32;
  case DType::f64:
    return ncclFloat64;
  case DType::bf16:
    return ncclBfloat16;
  case DType::i32:
    return ncclInt32;
  case DType::i64:
    return ncclInt64;
  case DType::u32:
    return ncclUint32;
  case DType::u64:
    return ncclUint64;
  case DType::u8:
    return ncclUint8;
  }
  GLM3D_FAIL() << "no NCCL datatype for dtype " << int(dt);
}

NcclCommunicator::NcclCommunicator(MPI_Comm comm, std::string name, cuda::Streams& streams)
    : name_(std::move(name)), streams_(streams) {
  MPI_CHECK(MPI_Comm_dup(comm, &mpi_));
  MPI_CHECK(MPI_Comm_set_errhandler(mpi_, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(mpi_, &rank_));
  MPI_CHECK(MPI_Comm_size(mpi_, &size_));
  const std::vector<uint8_t> bytes = share_unique_id(
      mpi_, sizeof(ncclUniqueId),
      [] {
        ncclUniqueId id;
        NCCL_CHECK(ncclGetUniqueId(&id));
        std::vector<uint8_t> v(sizeof(id));
        std::memcpy(v.data(), &id, sizeof(id));
        return v;
      },
      name_);
  ncclUniqueId id;
  std::memcpy(&id, bytes.data(), sizeof(id));
  NCCL_CHECK(ncclCommInitRank(&nccl_, size_, id, rank_));
}

NcclCommunicator::~NcclCommunicator() {
  // No throw from a destructor: queued work finishes first, errors surface elsewhere.
  cudaStreamSynchronize(streams_.comm());
  ncclCommDestroy(nccl_);
  MPI_Comm_free(&mpi_);
}

void NcclCommunicator::before() {
  streams_.comm_after_compute();
}

NcclEvent::NcclEvent() {
  CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
}

NcclEvent::~NcclEvent() {
  cudaEventDestroy(event);
}

RequestPtr NcclCommunicator::request() {
  auto e = std::make_shared<NcclEvent>();
  if (in_group_) {
    pending_.push_back(e);
  } else {
    CUDA_CHECK(cudaEventRecord(e->event, streams_.comm()));
    e->recorded = true;
  }
  return std::make_unique<StreamRequest>(std::move(e), streams_.compute());
}

void NcclCommunicator::all_reduce(void* buf, size_t count, DType dt, ReduceOp op) {
  before();
  NCCL_CHECK(ncclAllReduce(buf, buf, count, nccl_datatype(dt), nccl_op(op), nccl_, streams_.comm()));
  streams_.compute_after_comm();
  this->count(count, dt);
}

RequestPtr NcclCommunicator::iall_reduce(void* buf, size_t count, DType dt, ReduceOp op) {
  before();
  NCCL_CHECK(ncclAllReduce(buf, buf, count, nccl_datatype(dt), nccl_op(op), nccl_, streams_.comm()));
  this->count(count, dt);
  return request();
}

void NcclCommunicator::reduce_scatter(const void* send, void* recv, size_t recv_count, DType dt,
                                      ReduceOp op) {
  before();
  const size_t block = recv_count * dtype_size(dt);
  if (send == recv && rank_ != 0) {
    // MpiCommunicator's in-place form puts this rank's block at the start of the buffer;
    // NCCL's in-place form leaves it at block `rank`: reduce there, then move it down.
    auto* own = static_cast<uint8_t*>(recv) + size_t(rank_) * block;
    NCCL_CHECK(
        ncclReduceScatter(send, own, recv_count, nccl_datatype(dt), nccl_op(op), nccl_, streams_.comm()));
    CUDA_CHECK(cudaMemcpyAsync(recv, own, block, cudaMemcpyDeviceToDevice, streams_.comm()));
  } else {
    NCCL_CHECK(
        ncclReduceScatter(send, recv, recv_count, nccl_datatype(dt), nccl_op(op), nccl_, streams_.comm()));
  }
  streams_.compute_after_comm();
  count(recv_count, dt);
}

void NcclCommunicator::all_gather(const void* send, void* recv, size_t send_count, DType dt) {
  before(); // send == this rank's block of recv is NCCL's own in-place form
  NCCL_CHECK(ncclAllGather(send, recv, send_count, nccl_datatype(dt), nccl_, streams_.comm()));
  streams_.compute_after_comm();
  count(send_count, dt);
}

void NcclCommunicator::broadcast(void* buf, size_t count, DType dt, int root) {
  GLM3D_CHECK(root >= 0 && root < size_)
      << name_ << ": broadcast root " << root << " outside group of " << size_;
  before();
  NCCL_CHECK(ncclBroadcast(buf, buf, count, nccl_datatype(dt), root, nccl_, streams_.comm()));
  streams_.compute_after_comm();
  this->count(count, dt);
}

RequestPtr NcclCommunicator::isend(const void* buf, size_t count, DType dt, int peer, int) {
  GLM3D_CHECK(peer >= 0 && peer < size_)
      << name_ << ": isend to peer " << peer << " outside group of " << size_;
  before();
  NCCL_CHECK(ncclSend(buf, count, nccl_datatype(dt), peer, nccl_, streams_.comm()));
  this->count(count, dt);
  return request();
}

RequestPtr NcclCommunicator::irecv(void* buf, size_t count, DType dt, int peer, int) {
  GLM3D_CHECK(peer >= 0 && peer < size_)
      << name_ << ": irecv from peer " << peer << " outside group of " << size_;
  before();
  NCCL_CHECK(ncclRecv(buf, count, nccl_datatype(dt), peer, nccl_, streams_.comm()));
  this->count(count, dt);
  return request();
}

void NcclCommunicator::barrier() {
  TrackedOp tracked(tracker(), CommOp{"barrier", name_, rank_, size_, -1, -1, 0});
  CUDA_CHECK(cudaStreamSynchronize(streams_.comm()));
  MPI_CHECK(MPI_Barrier(mpi_));
}

void NcclCommunicator::group_start() {
  GLM3D_CHECK(!in_group_) << name_ << ": group_start inside a group";
  NCCL_CHECK(ncclGroupStart());
  in_group_ = true;
}

void NcclCommunicator::group_end() {
  GLM3D_CHECK(in_group_) << name_ << ": group_end without group_start";
  in_group_ = false;
  NCCL_CHECK(ncclGroupEnd());
  for (const auto& e : pending_) {
    CUDA_CHECK(cudaEventRecord(e->event, streams_.comm()));
    e->recorded = true;
  }
  pending_.clear();
}

} // namespace glm3d
