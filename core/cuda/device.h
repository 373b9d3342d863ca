#pragma once
// The GPU of a rank. One rank drives one GPU, chosen by its node-local rank (the
// shared-memory split that launch/main.cpp makes): local rank r uses device r % count, so
// several ranks share a GPU when there are more ranks than GPUs on a node.
#include <string>

namespace glm3d::cuda {

// Number of visible CUDA devices; 0 when there is no driver, no device, or
// CUDA_VISIBLE_DEVICES hides them all (never throws: callers use it to skip).
int device_count();

// The device a node-local rank uses. Throws glm3d::Error when count <= 0 or local_rank < 0.
int device_for_local_rank(int local_rank, int count);

struct DeviceInfo {
  int index = -1;
  std::string name; // e.g. "NVIDIA H200"
  int sm_count = 0, cc_major = 0, cc_minor = 0;
  size_t total_memory = 0;
  size_t max_smem_per_block = 0; // opt-in maximum of dynamic shared memory
};

// cudaSetDevice(device_for_local_rank(local_rank, device_count())) and that device's properties.
DeviceInfo select_device(int local_rank);
DeviceInfo device_info(int index);
// Streaming multiprocessors of the current device (sizes the grids of core/cuda kernels).
int current_sm_count();

} // namespace glm3d::cuda
