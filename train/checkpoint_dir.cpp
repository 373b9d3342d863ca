#include "train/checkpoint_dir.h"

#include "core/check.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace glm3d {

namespace fs = std::filesystem;

namespace {

void fsync_path(const std::string& path, bool dir) {
  const int fd = ::open(path.c_str(), dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  GLM3D_USAGE_CHECK(fd >= 0) << "cannot open " << path << " to flush it";
  const int rc = ::fsync(fd);
  ::close(fd);
  GLM3D_USAGE_CHECK(rc == 0) << "cannot flush " << path << " to disk";
}

void rename_or_throw(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  GLM3D_USAGE_CHECK(!ec) << "cannot rename " << from << " to " << to << ": " << ec.message();
}

} // namespace

std::string checkpoint_file_name(int64_t step) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "step_%08lld.h5", (long long)step);
  return buf;
}

std::string resolve_checkpoint(const std::string& p) {
  GLM3D_USAGE_CHECK(fs::exists(p)) << "checkpoint " << p << " does not exist";
  if (!fs::is_directory(p))
    return p;
  const std::string pointer = (fs::path(p) / "latest").string();
  std::ifstream in(pointer);
  if (!in) {
    const std::vector<std::string> files = list_checkpoints(p);
    std::string names;
    for (const auto& f : files)
      names += (names.empty() ? "" : ", ") + f;
    GLM3D_USAGE_CHECK(files.empty()) << "no `latest` in " << p << ", but it holds " << names
                                     << ": pass one of them, e.g. --load "
                                     << (fs::path(p) / files.back()).string();
    GLM3D_USAGE_FAIL() << "no checkpoint in " << p << ": " << pointer << " does not exist";
  }
  std::string name;
  std::getline(in, name);
  GLM3D_USAGE_CHECK(!name.empty() && name.find('/') == std::string::npos)
      << "checkpoint pointer " << pointer << " is empty or malformed";
  return (fs::path(p) / name).string();
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.size() == 16 && n.rfind("step_", 0) == 0 && n.substr(13) == ".h5")
      out.push_back(n);
  }
  std::sort(out.begin(), out.end()); // zero-padded step numbers sort by step
  return out;
}

void commit_checkpoint(const std::string& dir, const std::string& tmp_path, const std::string& final_name,
                       int64_t keep) {
  const std::string final_path = (fs::path(dir) / final_name).string();
  fsync_path(tmp_path, false);
  rename_or_throw(tmp_path, final_path);
  fsync_path(dir, true);
  const std::string pointer = (fs::path(dir) / "latest").string(), pointer_tmp = pointer + ".tmp";
  {
    std::ofstream out(pointer_tmp, std::ios::trunc);
    out << final_name << "\n";
    GLM3D_USAGE_CHECK(out.good()) << "cannot write " << pointer_tmp;
  }
  fsync_path(pointer_tmp, false);
  rename_or_throw(pointer_tmp, pointer);
  fsync_path(dir, true);
  // Only now may older checkpoints go: `latest` already names the new one.
  std::vector<std::string> all = list_checkpoints(dir);
  if (keep > 0 && int64_t(all.size()) > keep)
    for (size_t i = 0; i + size_t(keep) < all.size(); ++i)
      if (all[i] != final_name)
        fs::remove(fs::path(dir) / all[i]);
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("step_", 0) == 0 && n.size() > 4 && n.substr(n.size() - 4) == ".tmp")
      fs::remove(e.path());
  }
}

} // namespace glm3d
