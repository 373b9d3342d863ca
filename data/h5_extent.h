#pragma once
// The extent of a dataset in a file glm3d did not necessarily write, checked before anything is
// allocated or read for it: a damaged or hostile file can declare any dims (HDF5 stores them in
// the object header; an unwritten dataset reads as its fill value), so a reader that sized its
// buffers by them could be made to allocate without bound from a few bytes.
#include "data/h5_check.h"

#include <cstdint>
#include <string>
#include <vector>

namespace glm3d::h5 {

// Most data bytes a reader accepts per byte of file for a compressed dataset: 1032, the largest
// ratio of deflate (gzip), HDF5's usual compression filter. A dataset without a compression
// filter (glm3d writes none; the shuffle and Fletcher-32 filters do not compress) must fit the
// file as it is.
inline constexpr uint64_t k_max_expansion = 1032;

// The dims of dataset `dset`. UsageError naming `what` (e.g. "sample file F: dataset tokens")
// when its rank is outside [min_rank, max_rank], or when its elements times the element size
// exceed the size of its file (k_max_expansion times that, compressed), or when it is compact and
// stores another number of bytes than that.
std::vector<uint64_t> dataset_extent(hid_t dset, int min_rank, int max_rank, const std::string& what);

} // namespace glm3d::h5
