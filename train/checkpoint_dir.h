#pragma once
// A checkpoint directory (`--save DIR`): step_00000100.h5, step_00000200.h5, ... and `latest`,
// a one-line text file naming the newest complete checkpoint. A checkpoint is written as
// step_N.h5.tmp, flushed and closed by every rank, fsync'd and renamed by rank 0, and only then
// is `latest` replaced (written to latest.tmp, fsync'd, renamed): a crash at any moment leaves
// `latest` naming a complete file.
#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

std::string checkpoint_file_name(int64_t step); // "step_00000100.h5"

// --load DIR|FILE: a directory means the checkpoint its `latest` names. UsageError when the file
// or the pointer is missing.
std::string resolve_checkpoint(const std::string& dir_or_file);

// Rank 0, after every rank closed `tmp_path`: fsync, rename to DIR/final_name, point `latest`
// at it, then delete all but the `keep` newest step_*.h5 (keep <= 0: keep all) and stale *.tmp.
void commit_checkpoint(const std::string& dir, const std::string& tmp_path, const std::string& final_name,
                       int64_t keep);

// The step_*.h5 files of a directory, oldest first.
std::vector<std::string> list_checkpoints(const std::string& dir);

} // namespace glm3d
