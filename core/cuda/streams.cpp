#include "core/cuda/streams.h"

#include "core/cuda/check.h"

namespace glm3d::cuda {

Streams::Streams() {
  int least = 0, greatest = 0; // numerically lower is higher priority
  CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  CUDA_CHECK(cudaStreamCreateWithPriority(&compute_, cudaStreamNonBlocking, least));
  CUDA_CHECK(cudaStreamCreateWithPriority(&comm_, cudaStreamNonBlocking, greatest));
  CUDA_CHECK(cudaEventCreateWithFlags(&compute_done_, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventCreateWithFlags(&comm_done_, cudaEventDisableTiming));
}

Streams::~Streams() {
  // No throw from a destructor: failures here surface at the next checked call.
  cudaStreamSynchronize(compute_);
  cudaStreamSynchronize(comm_);
  cudaEventDestroy(compute_done_);
  cudaEventDestroy(comm_done_);
  cudaStreamDestroy(compute_);
  cudaStreamDestroy(comm_);
}

void Streams::comm_after_compute() {
  CUDA_CHECK(cudaEventRecord(compute_done_, compute_));
  CUDA_CHECK(cudaStreamWaitEvent(comm_, compute_done_, 0));
}

void Streams::compute_after_comm() {
  CUDA_CHECK(cudaEventRecord(comm_done_, comm_));
  CUDA_CHECK(cudaStreamWaitEvent(compute_, comm_done_, 0));
}

void Streams::synchronize() {
  CUDA_CHECK(cudaStreamSynchronize(compute_));
  CUDA_CHECK(cudaStreamSynchronize(comm_));
}

} // namespace glm3d::cuda
