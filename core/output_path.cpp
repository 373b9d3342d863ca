#include "core/output_path.h"

#include "core/check.h"

#include <filesystem>
#include <fstream>

namespace glm3d {

namespace fs = std::filesystem;

void check_output_file(const std::string& flag, const std::string& path) {
  std::error_code ec;
  GLM3D_USAGE_CHECK(!fs::is_directory(path, ec)) << flag << " " << path << " is a directory";
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    GLM3D_USAGE_CHECK(fs::exists(parent, ec))
        << flag << " " << path << ": the directory " << parent.string() << " does not exist";
    GLM3D_USAGE_CHECK(fs::is_directory(parent, ec))
        << flag << " " << path << ": " << parent.string() << " is not a directory";
  }
  const bool existed = fs::exists(path, ec);
  {
    std::ofstream out(path, std::ios::app);
    GLM3D_USAGE_CHECK(out.good()) << flag << " " << path << ": cannot open the file for writing";
  }
  if (!existed)
    fs::remove(path, ec); // the command creates it; a failed start leaves nothing behind
}

} // namespace glm3d
