#pragma once
// Collated samples in one HDF5 file (`glm3d data sample` writes it; `glm3d eval` reads it):
//   tokens, position_ids, block_position_ids, targets, loss_mask   int32 [N, seq_len]
//   sep, kind                                                      int32 [N]
//   attributes: format_version, seq_len, and whatever `attrs` the writer adds (e.g. seed, start,
//   tokenizer_sha256, store).
// The reader takes any HDF5 file with those datasets (any integer type HDF5 converts to int32):
// N and seq_len come from the shape of `tokens`, `kind` is optional (-1 when absent) and no
// attribute is needed.
#include "data/sample.h"

#include <map>
#include <string>
#include <vector>

namespace glm3d {

inline constexpr int64_t k_sample_file_version = 1;

// Written to PATH.tmp-<pid> then renamed. All samples must have the same length.
void write_sample_file(const std::string& path, const std::vector<Sample>& samples,
                       const std::map<std::string, std::string>& attrs = {});

// UsageError naming the file when it is missing, lacks a dataset, has mismatched shapes, a sep
// outside [0, seq_len] or a loss_mask other than 0/1.
std::vector<Sample> read_sample_file(const std::string& path);

} // namespace glm3d
