#pragma once
// QLoRA's frozen base (model/adapters.h, method qlora): the four layer matrices of this rank's
// layers (query_key_value, dense, dense_h_to_4h, dense_4h_to_h) held as NF4 with double
// quantization (core/quant/nf4.h), each the rank's tensor-parallel shard of the whole matrix
// quantized in its stored row-major order, so every layout holds the same codes. The other
// base tensors stay in the model's float buffer.
//
// Their linears never build the whole float matrix: forward and the input gradient dequantize a
// slab at a time into the matmul (f32: core/quant/qlinear.h; f64, for the gradient tests: the
// same slabs widened into a plain product). There is no weight gradient: the base is frozen.
#include "core/quant/qmatrix.h"
#include "model/act_store.h"

#include <cstdint>
#include <map>
#include <string>

namespace glm3d {

class QloraBase {
public:
  // name: the base weight's ("layers.3.attention.dense.weight"); q: this rank's shard [out, in].
  void set(const std::string& name, quant::QuantizedMatrix q);
  const quant::QuantizedMatrix& get(const std::string& name) const; // an error when absent
  int64_t bytes() const; // codes and quantization state of every matrix held
  size_t size() const { return m_.size(); }

private:
  std::map<std::string, quant::QuantizedMatrix> m_;
};

// y [N, out] = x [N, in] W^T + b (b [out] may be null), W [out, in] quantized. x may be bf16
// (bf16 precision: widened to f32 first).
template <class T>
void qlora_linear_forward(MatIn<T> x, const quant::QuantizedMatrix& W, const T* b, T* y, int64_t N);
// dx [N, in] = dy [N, out] W (overwritten).
template <class T>
void qlora_linear_backward_input(const T* dy, const quant::QuantizedMatrix& W, T* dx, int64_t N);

} // namespace glm3d
