#include "parallel/unique_id.h"

#include "parallel/mpi_check.h"

#include <climits>
#include <exception>

namespace glm3d {

// One broadcast of [status (1 byte) | id (nbytes) | error text (kText bytes)] from rank 0.
std::vector<uint8_t> share_unique_id(MPI_Comm comm, size_t nbytes,
                                     const std::function<std::vector<uint8_t>()>& make,
                                     const std::string& group_name) {
  constexpr size_t kText = 256;
  GLM3D_CHECK(nbytes > 0 && nbytes + kText + 1 <= size_t(INT_MAX)) << "unique id of " << nbytes << " bytes";
  int rank = 0;
  MPI_CHECK(MPI_Comm_rank(comm, &rank));
  std::vector<uint8_t> msg(1 + nbytes + kText, 0);
  if (rank == 0) {
    std::string error;
    try {
      const std::vector<uint8_t> id = make();
      if (id.size() != nbytes)
        error = "made an id of " + std::to_string(id.size()) + " bytes, expected " + std::to_string(nbytes);
      else
        std::copy(id.begin(), id.end(), msg.begin() + 1);
    } catch (const std::exception& e) {
      error = e.what();
    }
    msg[0] = error.empty() ? 1 : 0;
    error.resize(std::min(error.size(), kText - 1));
    std::copy(error.begin(), error.end(), msg.begin() + 1 + long(nbytes));
  }
  MPI_CHECK(MPI_Bcast(msg.data(), int(msg.size()), MPI_UINT8_T, 0, comm));
  if (msg[0] != 1) {
    const char* text = reinterpret_cast<const char*>(msg.data() + 1 + nbytes);
    GLM3D_FAIL() << "group '" << group_name << "': rank 0 could not create the communicator id: " << text;
  }
  return std::vector<uint8_t>(msg.begin() + 1, msg.begin() + 1 + long(nbytes));
}

} // namespace glm3d
