#pragma once
// GEMMs through cuBLASLt, row-major as core/cpu/matmul.h. bf16 inputs accumulate in f32
// (CUBLAS_COMPUTE_32F) and write bf16 or f32; f32 inputs compute in full f32 (no TF32).
// Epilogues fuse the bias and GeLU (tanh form) into the GEMM where a layer has them:
//   bias           C = op(A) op(B) + bias[N]
//   gelu_bias      C = gelu(op(A) op(B) + bias),   aux (optional) = the pre-activation
//   dgelu          C = (op(A) op(B)) * gelu'(aux)  (backward through gelu, aux saved forward)
// Bias and aux have C's dtype; aux is [M, N] row-major; N must be a multiple of 8 with aux.
#include "core/cuda/allocator.h"
#include "core/dtype.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

namespace glm3d::cuda {

enum class Epilogue { none, bias, gelu_bias, dgelu };

struct GemmExtras {
  Epilogue epilogue = Epilogue::none;
  const void* bias = nullptr; // [N], bias / gelu_bias
  void* aux = nullptr;        // [M, N]: written by gelu_bias (may be null), read by dgelu
};

class Blas {
public:
  explicit Blas(size_t workspace_bytes = size_t(32) << 20); // on the current device
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  // C[M,N] = alpha op(A) op(B) + beta C,  op(A) [M,K] (A stored [K,M] when trans_a),
  // op(B) [K,N] (B stored [N,K] when trans_b). A and B of dtype `ab`, C of dtype `c`
  // (f32 or bf16 each).
  void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const void* A, const void* B,
            DType ab, void* C, DType c, float alpha, float beta, const GemmExtras& ex, cudaStream_t stream);

  size_t plans() const { return plans_.size(); } // distinct shapes seen (heuristic queried once each)

private:
  struct Plan;
  using Key = std::tuple<bool, bool, int64_t, int64_t, int64_t, int, int, int, bool, int>;
  Plan& plan(const Key& key, const GemmExtras& ex, uint32_t align);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

// Linear layer, weights [out, in] (PyTorch / Megatron), T = float or bf16:
//   y[N,out] = x[N,in] W^T + b[out]            (b may be null; gelu: y = gelu(. + b), pre saved in aux)
template <class T>
void linear_forward(Blas& blas, const T* x, const T* W, const T* b, T* y, int64_t N, int64_t in, int64_t out,
                    cudaStream_t stream, bool gelu = false, T* aux = nullptr);

// dx[N,in] = dy W (overwrite, or += when accumulate_dx; dx may be null);
// dW[out,in] += dy^T x in G (float or T);  db[out] += sum_n dy[n,:] in f32 (db may be null).
template <class T, class G>
void linear_backward(Blas& blas, const T* dy, const T* x, const T* W, T* dx, G* dW, float* db, int64_t N,
                     int64_t in, int64_t out, bool accumulate_dx, DeviceAllocator& alloc,
                     cudaStream_t stream);

} // namespace glm3d::cuda
