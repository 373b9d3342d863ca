#pragma once
// Sharing a communicator's unique id (NCCL's ncclUniqueId is 128 opaque bytes) over the
// group's MPI communicator: rank 0 of `comm` makes it, every rank receives the same bytes.
// No CUDA here, so the exchange is tested on the CPU (tests/parallel/unique_id_mpi_test.cpp).
//
// Failure agreement: when `make` throws on rank 0 (e.g. ncclGetUniqueId fails), the other
// ranks are told in the same broadcast and every rank throws glm3d::Error naming the group,
// instead of waiting forever for an id.
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace glm3d {

// Collective over `comm`. `make` is called on rank 0 only and must return exactly `nbytes`.
std::vector<uint8_t> share_unique_id(MPI_Comm comm, size_t nbytes,
                                     const std::function<std::vector<uint8_t>()>& make,
                                     const std::string& group_name);

} // namespace glm3d
