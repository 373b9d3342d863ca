#pragma once
// Dense matrix products on the CPU. Row-major everywhere.
//   f32: oneDNN sgemm-class matmul. bf16: inputs rounded to bf16, f32 accumulation
//   and f32 output (oneDNN). f64: own blocked OpenMP loop (used by gradient tests).
#include "core/dtype.h"

#include <cstdint>

namespace glm3d::cpu {

enum class Precision { f32, bf16 }; // compute precision for float tensors; f64 ignores it

// C[M,N] = op(A) · op(B) + beta * C,  op(A) is [M,K] (A stored [K,M] when trans_a),
// op(B) is [K,N] (B stored [N,K] when trans_b). beta is 0 (overwrite) or 1 (accumulate).
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C,
          float beta, Precision prec = Precision::f32);

// bf16 inputs, f32 accumulation and output; same conventions as gemm.
void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const bf16* A, const bf16* B,
               float* C, float beta);

// Bytes of the per-thread buffers bf16 products whose operands have at most `largest_operand`
// elements need on this CPU: where oneDNN has no bf16 matmul, both operands are widened to f32
// in blocks of at most 4 MB (core/cpu/onednn.h), so 8 min(largest_operand, 2^20); else 0.
int64_t bf16_widening_bytes(int64_t largest_operand);

// Linear layer (weights stored [out, in] as in PyTorch / Megatron):
//   y[N,out] = x[N,in] · W[out,in]^T + b[out]      (b may be null)
template <class T>
void linear_forward(const T* x, const T* W, const T* b, T* y, int64_t N, int64_t in, int64_t out,
                    Precision prec = Precision::f32);

// dx[N,in]  = dy · W          (overwrite, or += when accumulate_dx; dx may be null)
// dW[out,in] += dy^T · x      (accumulate)
// db[out]   += sum_n dy[n,:]  (accumulate; db may be null)
template <class T>
void linear_backward(const T* dy, const T* x, const T* W, T* dx, T* dW, T* db, int64_t N, int64_t in,
                     int64_t out, bool accumulate_dx, Precision prec = Precision::f32);

// Linear layer on bf16 operands (compute weights and the stored activation already bf16),
// f32 accumulation and output: y[N,out] = x[N,in] · W[out,in]^T + b[out] (b may be null).
void linear_forward_bf16(const bf16* x, const bf16* W, const float* b, float* y, int64_t N, int64_t in,
                         int64_t out);
// dy (f32) is rounded to bf16 once for both products. dx (may be null) overwritten or +=;
// dW [out,in] and db (may be null) accumulate in f32.
void linear_backward_bf16(const float* dy, const bf16* x, const bf16* W, float* dx, float* dW, float* db,
                          int64_t N, int64_t in, int64_t out, bool accumulate_dx);

} // namespace glm3d::cpu
