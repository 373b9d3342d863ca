#pragma once
// CUDA_CHECK(call), CUBLAS_CHECK(call): run a CUDA runtime / cuBLAS(Lt) call and throw
// glm3d::Error with file, line, the call and the library's own error name and text when it
// fails. CUDA_CHECK_LAUNCH() checks the last kernel launch (bad configuration, no kernel
// image for this GPU). NCCL_CHECK lives in parallel/nccl_check.h.
#include "core/check.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#define CUDA_CHECK(call)                                                                                     \
  do {                                                                                                       \
    const cudaError_t glm3d_cuda_rc_ = (call);                                                               \
    if (glm3d_cuda_rc_ != cudaSuccess)                                                                       \
      ::glm3d::detail::Thrower<::glm3d::Error>(__FILE__, __LINE__, #call, true)                              \
          << cudaGetErrorName(glm3d_cuda_rc_) << ": " << cudaGetErrorString(glm3d_cuda_rc_);                 \
  } while (0)

#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

#define CUBLAS_CHECK(call)                                                                                   \
  do {                                                                                                       \
    const cublasStatus_t glm3d_cublas_rc_ = (call);                                                          \
    if (glm3d_cublas_rc_ != CUBLAS_STATUS_SUCCESS)                                                           \
      ::glm3d::detail::Thrower<::glm3d::Error>(__FILE__, __LINE__, #call, true)                              \
          << cublasLtGetStatusName(glm3d_cublas_rc_) << ": " << cublasLtGetStatusString(glm3d_cublas_rc_);   \
  } while (0)
