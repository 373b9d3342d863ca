#include "core/tensor.h"

#include "core/check.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace glm3d {

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i)
    os << (i ? "," : "") << s[i];
  os << "]";
  return os.str();
}

namespace {

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (int i = int(shape.size()) - 1; i >= 0; --i) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

void check_shape(const Shape& shape) {
  for (int64_t d : shape)
    GLM3D_CHECK(d >= 0) << "negative dimension in shape " << shape_str(shape);
}

int norm_dim(int dim, int ndim) {
  const int d = dim < 0 ? dim + ndim : dim;
  GLM3D_CHECK(d >= 0 && d < ndim) << "dim " << dim << " out of range for a " << ndim << "-d tensor";
  return d;
}

// Calls f(element offset) for every element of (shape, strides) in row-major order.
template <class F> void for_each_offset(const Shape& shape, const Shape& strides, int64_t offset, F&& f) {
  const int nd = int(shape.size());
  if (numel_of(shape) == 0)
    return;
  std::vector<int64_t> idx(nd, 0);
  for (;;) {
    f(offset);
    int d = nd - 1;
    for (; d >= 0; --d) {
      offset += strides[d];
      if (++idx[d] < shape[d])
        break;
      offset -= strides[d] * shape[d];
      idx[d] = 0;
    }
    if (d < 0)
      return;
  }
}

} // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  GLM3D_CHECK(device == Device::cpu) << "CUDA tensors are not available in this CPU build";
  check_shape(shape);
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  const size_t bytes = align_up(std::max<size_t>(t.nbytes(), 1));
  void* p = std::aligned_alloc(Arena::kAlign, bytes);
  GLM3D_CHECK(p != nullptr) << "cannot allocate " << bytes << " bytes for " << t.str();
  t.owner_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  t.base_ = p;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  std::memset(t.base_, 0, t.nbytes());
  return t;
}

Tensor Tensor::in_arena(Arena& arena, const Shape& shape, DType dtype) {
  check_shape(shape);
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.base_ = arena.take(t.nbytes());
  return t;
}

Tensor Tensor::wrap(void* data, const Shape& shape, DType dtype, Device device) {
  GLM3D_CHECK(data != nullptr) << "Tensor::wrap of a null pointer";
  check_shape(shape);
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.base_ = data;
  return t;
}

int64_t Tensor::size(int dim) const {
  return shape_[norm_dim(dim, this->dim())];
}

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape_[i] == 1)
      continue; // the stride of a size-1 dim never matters
    if (strides_[i] != expect)
      return false;
    expect *= shape_[i];
  }
  return true;
}

template <class T> T* Tensor::data() const {
  GLM3D_CHECK(dtype_of<T>() == dtype_) << "data<" << dtype_name(dtype_of<T>()) << ">() on " << str();
  return static_cast<T*>(raw());
}

template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template bf16* Tensor::data<bf16>() const;
template int32_t* Tensor::data<int32_t>() const;
template int64_t* Tensor::data<int64_t>() const;
template uint32_t* Tensor::data<uint32_t>() const;
template uint64_t* Tensor::data<uint64_t>() const;
template uint8_t* Tensor::data<uint8_t>() const;

Tensor Tensor::view(const Shape& shape) const {
  GLM3D_CHECK(is_contiguous()) << "view of a non-contiguous tensor " << str() << "; call contiguous() first";
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < int(s.size()); ++i) {
    if (s[i] == -1) {
      GLM3D_CHECK(infer < 0) << "view " << shape_str(shape) << ": at most one dim may be -1";
      infer = i;
    } else {
      GLM3D_CHECK(s[i] >= 0) << "view " << shape_str(shape) << ": negative dim";
      known *= s[i];
    }
  }
  if (infer >= 0) {
    GLM3D_CHECK(known > 0 && numel() % known == 0)
        << "view " << shape_str(shape) << " does not fit " << numel() << " elements";
    s[infer] = numel() / known;
  }
  GLM3D_CHECK(numel_of(s) == numel())
      << "view " << shape_str(shape) << " of " << str() << ": element count differs";
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::slice(int dim, int64_t start, int64_t stop) const {
  const int d = norm_dim(dim, this->dim());
  GLM3D_CHECK(0 <= start && start <= stop && stop <= shape_[d])
      << "slice [" << start << ", " << stop << ") of dim " << d << " of " << str();
  Tensor t = *this;
  t.offset_ += start * strides_[d];
  t.shape_[d] = stop - start;
  return t;
}

Tensor Tensor::select(int dim, int64_t index) const {
  const int d = norm_dim(dim, this->dim());
  GLM3D_CHECK(0 <= index && index < shape_[d]) << "select " << index << " of dim " << d << " of " << str();
  Tensor t = *this;
  t.offset_ += index * strides_[d];
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::transpose(int d0, int d1) const {
  const int a = norm_dim(d0, dim()), b = norm_dim(d1, dim());
  Tensor t = *this;
  std::swap(t.shape_[a], t.shape_[b]);
  std::swap(t.strides_[a], t.strides_[b]);
  return t;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous())
    return *this;
  GLM3D_CHECK(device_ == Device::cpu) << "contiguous() of " << str();
  Tensor out = empty(shape_, dtype_, device_);
  const size_t es = dtype_size(dtype_);
  const auto* src = static_cast<const std::byte*>(base_);
  auto* dst = static_cast<std::byte*>(out.base_);
  for_each_offset(shape_, strides_, offset_, [&](int64_t off) {
    std::memcpy(dst, src + off * int64_t(es), es);
    dst += es;
  });
  return out;
}

void Tensor::fill_zero() {
  GLM3D_CHECK(defined()) << "fill_zero of an undefined tensor";
  GLM3D_CHECK(device_ == Device::cpu) << "fill_zero of " << str();
  if (is_contiguous()) {
    std::memset(raw(), 0, nbytes());
    return;
  }
  const size_t es = dtype_size(dtype_);
  auto* base = static_cast<std::byte*>(base_);
  for_each_offset(shape_, strides_, offset_,
                  [&](int64_t off) { std::memset(base + off * int64_t(es), 0, es); });
}

std::string Tensor::str() const {
  return dtype_name(dtype_) + shape_str(shape_) + (device_ == Device::cpu ? " cpu" : " cuda");
}

} // namespace glm3d
