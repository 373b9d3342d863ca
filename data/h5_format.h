#pragma once
// The format every HDF5 file glm3d creates is written in: HDF5 1.8's (H5Pset_libver_bounds
// V18..latest), that is version 2 object headers and a version 2 superblock, each with a
// checksum HDF5 verifies whenever it loads them, so a damaged header is an error rather than bytes
// its decoders trust (data/h5_object_header.h says what is checked besides). Readable by HDF5 1.8
// and later (h5py, h5dump). Files glm3d wrote before (version 1 headers) stay readable.
#include "data/h5_check.h"

namespace glm3d::h5 {

// Sets the format on a file access property list (e.g. one with the MPI-IO driver).
void set_checksummed_format(hid_t fapl);

// A new file access property list with the format: for H5Fcreate, and for H5Fopen of a file glm3d
// appends to (new objects follow the list's bounds, not the file's).
Handle checksummed_fapl();

} // namespace glm3d::h5
