// cuBLASLt behind the row-major conventions of core/cpu/matmul.h.
//
// cuBLASLt is column-major; a row-major [R, C] buffer is a column-major [C, R] matrix. So the
// row-major C[M,N] = op(A) op(B) is computed as the column-major C^T[N,M] = op(B)^T op(A)^T:
// cuBLASLt's "A" is our B and its "B" is our A, with m = N, n = M, and each operand
// transposed in cuBLASLt exactly when it is transposed here. The bias epilogue adds a vector
// over the rows of the column-major result, i.e. over our N columns: one value per output feature.
#include "core/cuda/blas.h"

#include "core/cuda/check.h"
#include "core/cuda/elementwise.h"

#include <bit>

namespace glm3d::cuda {
namespace {

cudaDataType_t cuda_type(DType t) {
  GLM3D_CHECK(t == DType::f32 || t == DType::bf16)
      << "gemm: dtype " << dtype_name(t) << " (f32 or bf16 only)";
  return t == DType::f32 ? CUDA_R_32F : CUDA_R_16BF;
}

cublasLtEpilogue_t lt_epilogue(Epilogue e, bool has_aux) {
  switch (e) {
  case Epilogue::none:
    return CUBLASLT_EPILOGUE_DEFAULT;
  case Epilogue::bias:
    return CUBLASLT_EPILOGUE_BIAS;
  case Epilogue::gelu_bias:
    return has_aux ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_BIAS;
  case Epilogue::dgelu:
    return CUBLASLT_EPILOGUE_DGELU;
  }
  GLM3D_FAIL() << "unknown epilogue " << int(e);
}

// Largest power of two (<= 256) dividing the address: what cuBLASLt may assume about it.
uint32_t alignment(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  return a == 0 ? 256u : uint32_t(std::min<uintptr_t>(256, a & (~a + 1)));
}

template <class T> void set_desc(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const T& v) {
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d, attr, &v, sizeof(v)));
}

} // namespace

struct Blas::Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulHeuristicResult_t result{};
  ~Plan() {
    cublasLtMatrixLayoutDestroy(a);
    cublasLtMatrixLayoutDestroy(b);
    cublasLtMatrixLayoutDestroy(c);
    cublasLtMatmulDescDestroy(desc);
  }
};

Blas::Blas(size_t workspace_bytes) : workspace_bytes_(workspace_bytes) {
  CUBLAS_CHECK(cublasLtCreate(&handle_));
  CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
}

Blas::~Blas() {
  plans_.clear();
  cudaFree(workspace_);
  cublasLtDestroy(handle_);
}

// Key: trans_a, trans_b, M, N, K, ab, c, epilogue, aux given, min alignment of the pointers.
Blas::Plan& Blas::plan(const Key& key, const GemmExtras& ex, uint32_t align) {
  auto it = plans_.find(key);
  if (it != plans_.end())
    return *it->second;
  const auto [ta, tb, M, N, K, ab, c, epi, has_aux, al] = key;
  (void)al;
  auto p = std::make_unique<Plan>();
  const cudaDataType_t tab = cuda_type(DType(ab)), tc = cuda_type(DType(c));
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  set_desc(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, int32_t(tb ? CUBLAS_OP_T : CUBLAS_OP_N));
  set_desc(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, int32_t(ta ? CUBLAS_OP_T : CUBLAS_OP_N));
  set_desc(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, uint32_t(lt_epilogue(Epilogue(epi), has_aux)));
  // Stored shapes (rows, cols, ld) in column-major terms, see the top of this file.
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->a, tab, tb ? K : N, tb ? N : K, tb ? K : N));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->b, tab, ta ? M : K, ta ? K : M, ta ? M : K));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->c, tc, N, M, N));
  if (ex.bias)
    set_desc(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, ex.bias);
  if (ex.aux) {
    set_desc(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, static_cast<const void*>(ex.aux));
    set_desc(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, int64_t(N));
  }
  cublasLtMatmulPreference_t pref = nullptr;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t ws = workspace_bytes_;
  CUBLAS_CHECK(
      cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
  for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &align, sizeof(align)));
  int found = 0;
  const cublasStatus_t rc =
      cublasLtMatmulAlgoGetHeuristic(handle_, p->desc, p->a, p->b, p->c, p->c, pref, 1, &p->result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  CUBLAS_CHECK(rc);
  GLM3D_CHECK(found > 0) << "cuBLASLt has no algorithm for gemm M=" << M << " N=" << N << " K=" << K
                         << " trans_a=" << ta << " trans_b=" << tb << " epilogue=" << epi
                         << " align=" << align;
  return *plans_.emplace(key, std::move(p)).first->second;
}

void Blas::gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const void* A, const void* B,
                DType ab, void* C, DType c, float alpha, float beta, const GemmExtras& ex,
                cudaStream_t stream) {
  if (M == 0 || N == 0)
    return;
  GLM3D_CHECK(ex.epilogue == Epilogue::none || ex.epilogue == Epilogue::dgelu || ex.bias)
      << "gemm: the bias epilogues need a bias";
  GLM3D_CHECK(ex.epilogue != Epilogue::dgelu || ex.aux) << "gemm: dgelu needs the saved pre-activation (aux)";
  GLM3D_CHECK(!ex.aux || N % 8 == 0) << "gemm: an epilogue aux matrix needs N % 8 == 0, got N=" << N;
  uint32_t align = std::min({alignment(A), alignment(B), alignment(C)});
  if (ex.bias)
    align = std::min(align, alignment(ex.bias));
  if (ex.aux)
    align = std::min(align, alignment(ex.aux));
  const Key key{trans_a, trans_b, M, N, K, int(ab), int(c), int(ex.epilogue), ex.aux != nullptr, int(align)};
  Plan& p = plan(key, ex, align);
  if (ex.bias)
    set_desc(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, ex.bias);
  if (ex.aux)
    set_desc(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, static_cast<const void*>(ex.aux));
  CUBLAS_CHECK(cublasLtMatmul(handle_, p.desc, &alpha, B, p.a, A, p.b, &beta, C, p.c, C, p.c, &p.result.algo,
                              workspace_, workspace_bytes_, stream));
}

template <class T>
void linear_forward(Blas& blas, const T* x, const T* W, const T* b, T* y, int64_t N, int64_t in, int64_t out,
                    cudaStream_t stream, bool gelu, T* aux) {
  GLM3D_CHECK(!gelu || b) << "linear_forward: the GeLU epilogue is fused with the bias (pass one)";
  GemmExtras ex;
  ex.epilogue = gelu ? Epilogue::gelu_bias : (b ? Epilogue::bias : Epilogue::none);
  ex.bias = b;
  ex.aux = aux;
  blas.gemm(false, true, N, out, in, x, W, dtype_of<T>(), y, dtype_of<T>(), 1.0f, 0.0f, ex, stream);
}

template <class T, class G>
void linear_backward(Blas& blas, const T* dy, const T* x, const T* W, T* dx, G* dW, float* db, int64_t N,
                     int64_t in, int64_t out, bool accumulate_dx, DeviceAllocator& alloc,
                     cudaStream_t stream) {
  if (dx)
    blas.gemm(false, false, N, in, out, dy, W, dtype_of<T>(), dx, dtype_of<T>(), 1.0f,
              accumulate_dx ? 1.0f : 0.0f, {}, stream);
  blas.gemm(true, false, out, in, N, dy, x, dtype_of<T>(), dW, dtype_of<G>(), 1.0f, 1.0f, {}, stream);
  if (db)
    column_sum_accumulate(dy, N, out, db, alloc, stream);
}

template void linear_forward<float>(Blas&, const float*, const float*, const float*, float*, int64_t, int64_t,
                                    int64_t, cudaStream_t, bool, float*);
template void linear_forward<bf16>(Blas&, const bf16*, const bf16*, const bf16*, bf16*, int64_t, int64_t,
                                   int64_t, cudaStream_t, bool, bf16*);
template void linear_backward<float, float>(Blas&, const float*, const float*, const float*, float*, float*,
                                            float*, int64_t, int64_t, int64_t, bool, DeviceAllocator&,
                                            cudaStream_t);
template void linear_backward<bf16, float>(Blas&, const bf16*, const bf16*, const bf16*, bf16*, float*,
                                           float*, int64_t, int64_t, int64_t, bool, DeviceAllocator&,
                                           cudaStream_t);
template void linear_backward<bf16, bf16>(Blas&, const bf16*, const bf16*, const bf16*, bf16*, bf16*, float*,
                                          int64_t, int64_t, int64_t, bool, DeviceAllocator&, cudaStream_t);

} // namespace glm3d::cuda
