#pragma once
// Tensor: metadata (shape, strides, dtype, device) over a shared buffer; views
// share the buffer and differ only in offset/shape/strides. Tensors either own
// their memory (Tensor::empty/zeros) or point into an Arena (Tensor::in_arena),
// in which case the arena must outlive them.
#include "core/arena.h"
#include "core/dtype.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace glm3d {

enum class Device { cpu, cuda };

using Shape = std::vector<int64_t>;
int64_t numel_of(const Shape& s);
std::string shape_str(const Shape& s);

class Tensor {
public:
  Tensor() = default;
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::cpu);
  static Tensor in_arena(Arena& arena, const Shape& shape, DType dtype);
  // Wraps external memory (not owned).
  static Tensor wrap(void* data, const Shape& shape, DType dtype, Device device = Device::cpu);

  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; } // in elements
  int64_t size(int dim) const;                      // negative dims count from the end
  int dim() const { return int(shape_.size()); }
  int64_t numel() const { return numel_of(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  bool defined() const { return base_ != nullptr; }
  bool is_contiguous() const;

  void* raw() const { return static_cast<std::byte*>(base_) + offset_ * int64_t(dtype_size(dtype_)); }
  template <class T> T* data() const; // checks dtype_of<T>() == dtype()

  // Views (share memory).
  Tensor view(const Shape& shape) const;                    // contiguous only; one dim may be -1
  Tensor slice(int dim, int64_t start, int64_t stop) const; // [start, stop) along dim
  Tensor select(int dim, int64_t index) const;              // drops dim
  Tensor transpose(int d0, int d1) const;                   // swaps strides
  Tensor contiguous() const;                                // copy if needed

  void fill_zero();
  std::string str() const; // "f32[2,3] cpu"

private:
  std::shared_ptr<void> owner_; // keeps owned memory alive; null for arena/wrapped tensors
  void* base_ = nullptr;
  int64_t offset_ = 0; // in elements
  Shape shape_, strides_;
  DType dtype_ = DType::f32;
  Device device_ = Device::cpu;
};

} // namespace glm3d
