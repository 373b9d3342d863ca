#pragma once
// The HDF5 pieces every checkpoint writer and reader shares (docs/checkpoint.md): the metadata
// (root attributes, the `config` group, the optional `special_tokens` group), the bf16 type of
// exported parameters, a tensor's dataset created, opened with its shape and checksum checked,
// and one piece written (rounded to bf16 when asked) with its checksum. Used by the parallel
// writer/reader (checkpoint_io.h) and the one-rank streamed ones (checkpoint_stream.h).
#include "data/h5_check.h"
#include "train/checkpoint_format.h"

#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

// Writes the root attributes, /config and /special_tokens of `file` (collective when the file
// was opened with MPI-IO: every rank passes the same meta). Caller holds h5::library_lock().
void write_checkpoint_meta(hid_t file, const CheckpointMeta& meta);

// Reads the metadata of a checkpoint on one rank (no MPI). UsageError naming the file and the
// field when it is missing, not HDF5 (e.g. truncated), or not a glm3d checkpoint.
CheckpointMeta read_checkpoint_meta(const std::string& path);

// bfloat16 as an HDF5 float type: sign bit 15, exponent bits 7..14 (bias 127), mantissa 0..6.
// HDF5 converts it to and from native floats, so h5py and glm3d read it as numbers.
h5::Handle bf16_h5_type();

// The dataset path of a tensor in a group: "params/layers.0.attention.dense.weight".
inline std::string tensor_path(const std::string& group, const std::string& name) {
  return group + "/" + name;
}

// Creates t's dataset ([rows, cols], or [rows] for a vector) in `group` with the file type.
h5::Handle create_tensor_dataset(hid_t group, const CkptTensor& t, hid_t type);

// Opens `group/t.name` of checkpoint `path` after checking that it exists with t's shape and has
// a checksum (returned in `stored_checksum`). UsageError naming the file and the tensor.
h5::Handle open_tensor_checked(hid_t file, const std::string& path, const std::string& group,
                               const CkptTensor& t, uint64_t& stored_checksum);

// Writes the elements of `rects` of t (data in their row-major order) into dset; with bf16_type
// a valid type, rounded to bf16 (nearest even) first. Returns the checksum of what was stored
// (the rounded values for bf16). Caller holds h5::library_lock().
uint64_t write_tensor_piece(hid_t dset, const CkptTensor& t, const float* data,
                            const std::vector<Rect>& rects, hid_t bf16_type);

// Reads the elements of `rects` of a tensor into data (f32, whatever the stored type). A read HDF5
// fails (a damaged file: chunk addresses, ...) is a UsageError "checkpoint P: tensor 'N' is
// unreadable: ...".
void read_tensor_piece(hid_t dset, float* data, const std::vector<Rect>& rects, const std::string& path,
                       const std::string& name);

// UsageError "checkpoint P: tensor 'N' fails its checksum (stored 0x.., data 0x..)" unless equal.
void check_checksum(const std::string& path, const std::string& name, uint64_t stored, uint64_t data);

} // namespace glm3d
