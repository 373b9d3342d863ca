#pragma once
// Activation storage of the model: what a layer keeps from forward for backward. Under bf16
// precision the tensors that feed a matmul are kept in bf16 (the matmul reads them in bf16
// anyway, so nothing is lost and half the bytes are held); everything else stays f32 (f64 in
// the gradient tests).
#include "core/cpu/convert.h"
#include "core/dtype.h"
#include "core/quant/qmatrix.h"

#include <cstdint>
#include <type_traits>
#include <vector>

namespace glm3d {

// One operand of a matmul: its values as T, or as bf16, or (a QLoRA base's weight) quantized
// (exactly one is set).
template <class T> struct MatIn {
  const T* f = nullptr;
  const bf16* b = nullptr;
  const quant::QuantizedMatrix* q = nullptr;
  // Rows [r0, ...) of a row-major matrix with `cols` columns.
  MatIn rows(int64_t r0, int64_t cols) const {
    return {f ? f + r0 * cols : nullptr, b ? b + r0 * cols : nullptr};
  }
};

// A stored activation of n elements, as T or as bf16.
template <class T> class StoredAct {
public:
  // Where to write the f32/f64 values of a fresh activation: the store itself when kept as T,
  // else `scratch` (sized here); then call commit() to round them into the bf16 store.
  T* begin_write(int64_t n, bool as_bf16, std::vector<T>& scratch) {
    n_ = n;
    as_bf16_ = as_bf16;
    if (!as_bf16) {
      std::vector<bf16>().swap(b_);
      f_.resize(size_t(n));
      return f_.data();
    }
    std::vector<T>().swap(f_);
    if (scratch.size() < size_t(n))
      scratch.resize(size_t(n));
    return scratch.data();
  }
  void commit(const T* written) {
    if constexpr (std::is_same_v<T, float>)
      if (as_bf16_) {
        b_.resize(size_t(n_));
        cpu::to_bf16(written, b_.data(), n_);
      }
  }
  // A bf16 activation produced in bf16 by its kernel (flash attention's output).
  bf16* bf16_slot(int64_t n) {
    n_ = n;
    as_bf16_ = true;
    std::vector<T>().swap(f_);
    b_.resize(size_t(n));
    return b_.data();
  }
  MatIn<T> in() const { return as_bf16_ ? MatIn<T>{nullptr, b_.data()} : MatIn<T>{f_.data(), nullptr}; }
  bool is_bf16() const { return as_bf16_; }
  const bf16* b() const { return b_.data(); }
  T* f() { return f_.data(); }
  const T* f() const { return f_.data(); }
  // The values as T: the store itself, or widened into scratch.
  const T* values(std::vector<T>& scratch) const {
    if (!as_bf16_)
      return f_.data();
    if constexpr (std::is_same_v<T, float>) {
      if (scratch.size() < size_t(n_))
        scratch.resize(size_t(n_));
      cpu::to_f32(b_.data(), scratch.data(), n_);
      return scratch.data();
    }
    return nullptr;
  }
  void release() {
    std::vector<T>().swap(f_);
    std::vector<bf16>().swap(b_);
    n_ = 0;
  }
  int64_t bytes() const { return int64_t(f_.capacity() * sizeof(T) + b_.capacity() * sizeof(bf16)); }

private:
  std::vector<T> f_;
  std::vector<bf16> b_;
  int64_t n_ = 0;
  bool as_bf16_ = false;
};

template <class T> void release(std::vector<T>& v) {
  std::vector<T>().swap(v);
}

} // namespace glm3d
