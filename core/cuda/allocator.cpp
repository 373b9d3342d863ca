#include "core/cuda/allocator.h"

#include "core/cuda/check.h"

#include <utility>

namespace glm3d::cuda {
namespace {

BlockCache::Backend cuda_backend() {
  return {[](size_t bytes) -> void* {
            void* p = nullptr;
            if (cudaMalloc(&p, bytes) != cudaSuccess) {
              cudaGetLastError(); // out of memory is reported by BlockCache, after a retry
              return nullptr;
            }
            return p;
          },
          [](void* p) {
            // Segments go back only when no kernel can still use them: wait for the device.
            cudaDeviceSynchronize();
            cudaFree(p);
          }};
}

} // namespace

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    owner_ = std::exchange(o.owner_, nullptr);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (owner_ && ptr_)
    owner_->raw_free(ptr_);
  owner_ = nullptr;
  ptr_ = nullptr;
  bytes_ = 0;
}

DeviceAllocator::DeviceAllocator() : cache_(cuda_backend()) {}

DeviceBuffer DeviceAllocator::allocate(size_t bytes, cudaStream_t stream) {
  return DeviceBuffer(this, cache_.allocate(bytes, stream), bytes);
}

} // namespace glm3d::cuda
