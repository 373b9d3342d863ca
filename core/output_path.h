#pragma once
// Output files are checked before the work that fills them, so a typo in a path costs a second,
// not the run: glm3d train --metrics, glm3d eval --out, glm3d data sample --out, glm3d generate --out.
#include <string>

namespace glm3d {

// UsageError, one line naming `flag` and `path`, unless a file can be written at path: not a
// directory, its directory exists, and the file opens for appending (an existing file is left
// as it was; one made by the probe is removed).
void check_output_file(const std::string& flag, const std::string& path);

} // namespace glm3d
