#pragma once
// MPI_CHECK(call): runs an MPI call and throws glm3d::Error with file, line, the call
// and MPI's own error string when it does not return MPI_SUCCESS. Communicators set
// MPI_ERRORS_RETURN on themselves so errors reach this check instead of aborting.
#include "core/check.h"

#include <mpi.h>
#include <string>

namespace glm3d::detail {

inline std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
    return "MPI error code " + std::to_string(code);
  return std::string(text, size_t(len));
}

} // namespace glm3d::detail

#define MPI_CHECK(call)                                                                                      \
  do {                                                                                                       \
    const int glm3d_mpi_rc_ = (call);                                                                        \
    if (glm3d_mpi_rc_ != MPI_SUCCESS)                                                                        \
      ::glm3d::detail::Thrower<::glm3d::Error>(__FILE__, __LINE__, #call, true)                              \
          << ::glm3d::detail::mpi_error_string(glm3d_mpi_rc_);                                               \
  } while (0)
