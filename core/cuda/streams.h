#pragma once
// Streams: one stream for compute and one for communication (NCCL), and the events that
// order them without blocking the host. Gradient all-reduces run on `comm` while backward
// goes on on `compute`:
//   streams.comm_after_compute();   // comm waits for the gradients produced so far
//   <NCCL call on streams.comm>
//   streams.compute_after_comm();   // later compute (the optimizer) waits for the reduction
#include <cuda_runtime_api.h>

namespace glm3d::cuda {

class Streams {
public:
  Streams(); // on the current device; comm gets the higher priority so it is not starved
  ~Streams();
  Streams(const Streams&) = delete;
  Streams& operator=(const Streams&) = delete;

  cudaStream_t compute() const { return compute_; }
  cudaStream_t comm() const { return comm_; }
  void comm_after_compute(); // work queued on comm from now on starts after compute's queued work
  void compute_after_comm(); // and the other way round
  void synchronize();        // host waits for both

private:
  cudaStream_t compute_ = nullptr, comm_ = nullptr;
  cudaEvent_t compute_done_ = nullptr, comm_done_ = nullptr;
};

} // namespace glm3d::cuda
