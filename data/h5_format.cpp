#include "data/h5_format.h"

namespace glm3d::h5 {

void set_checksummed_format(hid_t fapl) {
  H5_CHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST));
}

Handle checksummed_fapl() {
  Handle fapl(H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
  set_checksummed_format(fapl.get());
  return fapl;
}

} // namespace glm3d::h5
