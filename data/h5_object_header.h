#pragma once
// A check of an object's HDF5 header, on the file's own bytes, before HDF5 decodes its attributes.
//
// Why: HDF5 1.10.8 (Debian 12) decodes an attribute message (H5O_attr_decode) without bounding
// its parts by the message: a damaged name, datatype or dataspace length, or a dataspace larger
// than the stored data, makes it read past the header buffer (an ASan heap-buffer-overflow in
// H5Aexists, found by the quantized_ckpt fuzz target; upstream fixed such reads in 1.14). glm3d
// reads attributes of files users bring, so every attribute read (data/h5_attr.h) walks the
// object header first and refuses what HDF5 would overrun:
//   - the header and its continuation chunks lie inside the file; every message inside its chunk;
//   - every attribute message (version 1-3): name, datatype and dataspace inside the message, the
//     name NUL-terminated, the datatype fixed-point, floating-point or string with its size, the
//     dataspace of rank <= 32, and elements x element size (no overflow) inside the message;
//   - shared attribute messages or datatypes, which glm3d never writes, are refused;
//   - a group's symbol table (1.6 format): its local heap lies inside the file (HDF5 1.10.8
//     allocates the heap at the size the file states and reads into the buffer unchecked when the
//     allocation fails: a NULL read, found by the sample_file target), its free list inside it
//     and without a cycle (HDF5 follows a cyclic one allocating without end); every header chunk
//     inside the file too.
// The readers also call it on the root group right after H5Fopen, before any lookup, and
// check_root_before_open before it (H5Fopen itself loads the root header).
// Version 1 headers (no checksum; every file glm3d wrote before, and h5py's default) are checked
// thus. Version 2 headers ("OHDR", glm3d's files now: data/h5_format.h) carry a checksum that
// HDF5 verifies when it loads them, so a damaged one never reaches the decoder; their compact
// attributes are walked the same way too (a crafted header with a valid checksum). Attributes in
// dense storage (a fractal heap, more than 8 attributes on one object in a version 2 header) are
// left to HDF5 and its checksums. Other messages (datatype, dataspace, layout of a dataset) are
// decoded by H5Dopen itself, before any of this: they are not checked here.
#include "data/h5_check.h"

#include <string>

namespace glm3d::h5 {

// UsageError naming the file and the object when the header of `obj` (an open file, group or
// dataset) fails the checks above; else the number of attribute messages checked (-1: the file is
// open for writing, glm3d's own, not checked).
int check_object_header(hid_t obj);

// Before H5Fopen of a file users bring: the walk above on the root group's header (from the
// superblock), so that no chunk is larger than the file. HDF5 1.10.8 allocates a chunk at the size
// the file states before it reads it (1 and 2 GB requests from 4 and 18 KB files, found by the
// token_shard and quantized_ckpt targets: seconds under ASan), then reports the read past the end;
// glm3d refuses before the allocation. A file that is not HDF5 is left to H5Fopen.
void check_root_before_open(const std::string& path);

// A file users bring, opened read-only between the checks: check_root_before_open, H5Fopen,
// then check_object_header of the root group (its heap, before any lookup). The caller holds
// h5::library_lock() and turns the Error / UsageError into its message.
Handle open_untrusted(const std::string& path);

} // namespace glm3d::h5
