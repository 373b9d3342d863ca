#pragma once
// Collated samples in one HDF5 file (`glm3d data sample` writes it; `glm3d eval` reads it):
//   tokens, position_ids, block_position_ids, targets, loss_mask   int32 [N, seq_len]
//   sep, kind                                                      int32 [N]
//   attributes: format_version, seq_len, and whatever `attrs` the writer adds (e.g. seed, start,
//   tokenizer_sha256, store).
#include "data/sample.h"

#include <map>
#include <string>
#include <vector>

namespace glm3d {

inline constexpr int64_t k_sample_file_version = 1;

// Written to PATH.tmp-<pid> then renamed. All samples must have the same length.
void write_sample_file(const std::string& path, const std::vector<Sample>& samples,
                       const std::map<std::string, std::string>& attrs = {});

// UsageError naming the file when it is missing or not a sample file.
std::vector<Sample> read_sample_file(const std::string& path);

} // namespace glm3d
