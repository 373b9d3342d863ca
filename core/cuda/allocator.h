#pragma once
// DeviceAllocator: the caching allocator for device tensors (cudaMalloc behind BlockCache,
// core/cuda/block_cache.h, which holds the policy and the stats). DeviceBuffer: one
// allocation, returned to the cache when it goes out of scope. Not thread-safe: one
// allocator per rank, used from the rank's host thread.
#include "core/cuda/block_cache.h"

#include <cuda_runtime_api.h>

#include <cstddef>

namespace glm3d::cuda {

class DeviceAllocator;

class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceAllocator* owner, void* ptr, size_t bytes) : owner_(owner), ptr_(ptr), bytes_(bytes) {}
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  template <class T> T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }
  void reset(); // back to the cache now

private:
  DeviceAllocator* owner_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class DeviceAllocator {
public:
  DeviceAllocator(); // on the current device
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;

  // Memory for kernels on `stream`; freed (back to the cache) in that stream's order.
  DeviceBuffer allocate(size_t bytes, cudaStream_t stream);
  void* raw_allocate(size_t bytes, cudaStream_t stream) { return cache_.allocate(bytes, stream); }
  void raw_free(void* p) { cache_.free(p); }
  void release_cached() { cache_.release_cached(); }
  const CacheStats& stats() const { return cache_.stats(); }

private:
  BlockCache cache_;
};

} // namespace glm3d::cuda
