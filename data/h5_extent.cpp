#include "data/h5_extent.h"

#include "core/checked_int.h"

namespace glm3d::h5 {

namespace {
// Whether the dataset's filter pipeline holds a filter that may compress (any but shuffle and
// Fletcher-32).
bool compressed(hid_t dset) {
  Handle dcpl(H5_CHECK(H5Dget_create_plist(dset)), H5Pclose);
  const int n = H5_CHECK(H5Pget_nfilters(dcpl.get()));
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, config = 0;
    size_t nvalues = 0;
    const H5Z_filter_t id =
        H5_CHECK(H5Pget_filter2(dcpl.get(), unsigned(i), &flags, &nvalues, nullptr, 0, nullptr, &config));
    if (id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32)
      return true;
  }
  return false;
}
} // namespace

std::vector<uint64_t> dataset_extent(hid_t dset, int min_rank, int max_rank, const std::string& what) {
  auto lock = library_lock();
  Handle space(H5_CHECK(H5Dget_space(dset)), H5Sclose);
  const int rank = H5_CHECK(H5Sget_simple_extent_ndims(space.get()));
  GLM3D_USAGE_CHECK(rank >= min_rank && rank <= max_rank)
      << what << " has " << rank << " dimensions, expected "
      << (min_rank == max_rank ? std::to_string(min_rank)
                               : std::to_string(min_rank) + " to " + std::to_string(max_rank));
  std::vector<hsize_t> dims(size_t(rank), 0);
  H5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
  Handle type(H5_CHECK(H5Dget_type(dset)), H5Tclose);
  const uint64_t element = H5Tget_size(type.get());
  Handle file(H5_CHECK(H5Iget_file_id(dset)), H5Fclose);
  hsize_t file_bytes = 0;
  H5_CHECK(H5Fget_filesize(file.get(), &file_bytes));
  std::optional<uint64_t> bytes = element;
  for (hsize_t d : dims)
    bytes = bytes ? checked_mul(*bytes, uint64_t(d)) : std::nullopt;
  const std::optional<uint64_t> room =
      checked_mul(uint64_t(file_bytes), compressed(dset) ? k_max_expansion : 1);
  GLM3D_USAGE_CHECK(bytes && (!room || *bytes <= *room))
      << what << " declares " << (bytes ? std::to_string(*bytes) : std::string("more than 2^64"))
      << " bytes of data, more than its file of " << file_bytes << " bytes can hold";
  // A compact dataset (its data inside the object header) must hold exactly that many bytes:
  // HDF5 1.10.8 reads the extent's bytes from the stored buffer unchecked (a NULL read when the
  // header stores none; found by tests/fuzz sample_file).
  Handle dcpl(H5_CHECK(H5Dget_create_plist(dset)), H5Pclose);
  if (H5Pget_layout(dcpl.get()) == H5D_COMPACT) {
    const uint64_t stored = H5Dget_storage_size(dset);
    GLM3D_USAGE_CHECK(stored == *bytes)
        << what << " is compact with " << stored << " bytes stored, its extent needs " << *bytes;
  }
  return {dims.begin(), dims.end()};
}

} // namespace glm3d::h5
