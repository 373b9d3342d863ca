#include "core/cuda/device.h"

#include "core/cuda/check.h"

namespace glm3d::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError(); // clear the sticky "no device" error so later checks do not see it
    return 0;
  }
  return n;
}

int device_for_local_rank(int local_rank, int count) {
  GLM3D_CHECK(count > 0) << "no CUDA device visible to this rank (local rank " << local_rank << ")";
  GLM3D_CHECK(local_rank >= 0) << "local rank must be non-negative, got " << local_rank;
  return local_rank % count;
}

DeviceInfo device_info(int index) {
  cudaDeviceProp p{};
  CUDA_CHECK(cudaGetDeviceProperties(&p, index));
  DeviceInfo d;
  d.index = index;
  d.name = p.name;
  d.sm_count = p.multiProcessorCount;
  d.cc_major = p.major;
  d.cc_minor = p.minor;
  d.total_memory = p.totalGlobalMem;
  d.max_smem_per_block = p.sharedMemPerBlockOptin;
  return d;
}

DeviceInfo select_device(int local_rank) {
  const int dev = device_for_local_rank(local_rank, device_count());
  CUDA_CHECK(cudaSetDevice(dev));
  return device_info(dev);
}

int current_sm_count() {
  int dev = 0, n = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
  return n;
}

} // namespace glm3d::cuda
