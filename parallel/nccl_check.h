#pragma once
// NCCL_CHECK(call): runs an NCCL call and throws glm3d::Error with file, line, the call and
// NCCL's error string when it does not return ncclSuccess (ncclInProgress counts as success
// only for non-blocking communicators, which glm3d does not create).
#include "core/check.h"

#include <nccl.h>

#define NCCL_CHECK(call)                                                                                     \
  do {                                                                                                       \
    const ncclResult_t glm3d_nccl_rc_ = (call);                                                              \
    if (glm3d_nccl_rc_ != ncclSuccess)                                                                       \
      ::glm3d::detail::Thrower<::glm3d::Error>(__FILE__, __LINE__, #call, true)                              \
          << "NCCL error " << int(glm3d_nccl_rc_) << ": " << ncclGetErrorString(glm3d_nccl_rc_);             \
  } while (0)
