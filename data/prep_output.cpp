#include "data/prep_output.h"

#include "core/check.h"
#include "data/token_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace glm3d {

namespace fs = std::filesystem;

namespace {

bool is_inside(const fs::path& p, const fs::path& dir) {
  return std::mismatch(dir.begin(), dir.end(), p.begin(), p.end()).first == dir.end();
}

const char* what_it_is(const fs::file_status& st) {
  if (fs::is_symlink(st))
    return "a symbolic link";
  if (fs::is_regular_file(st))
    return "a file";
  return "not a directory";
}

} // namespace

void check_prep_output(const std::string& out_dir, bool overwrite, const std::vector<std::string>& inputs,
                       const std::string& manifest, const std::string& what, const std::string& command) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(out_dir, ec);
  if (!fs::exists(st))
    return;
  GLM3D_USAGE_CHECK(overwrite) << command << ": output " << out_dir
                               << " already exists (use --overwrite to replace it)";
  const char* keep = "; remove it yourself or choose another --out";
  GLM3D_USAGE_CHECK(fs::is_directory(st)) << command << ": --overwrite replaces only " << what << ", and "
                                          << out_dir << " is " << what_it_is(st) << keep;
  GLM3D_USAGE_CHECK(fs::is_regular_file(fs::path(out_dir) / manifest, ec))
      << command << ": --overwrite replaces only " << what << ", and " << out_dir << " has no " << manifest
      << keep;
  fs::path root = fs::weakly_canonical(out_dir, ec);
  if (!root.has_filename()) // "DIR/"
    root = root.parent_path();
  for (const std::string& in : inputs)
    GLM3D_USAGE_CHECK(!is_inside(fs::weakly_canonical(in, ec), root))
        << command << ": input file " << in << " lies inside " << out_dir
        << ", the store --overwrite would replace; move it out first";
}

std::string read_file_bytes(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  GLM3D_USAGE_CHECK(in.good()) << "cannot read " << what << " " << path;
  std::ostringstream os;
  os << in.rdbuf();
  GLM3D_USAGE_CHECK(!in.bad()) << "cannot read " << what << " " << path;
  return os.str();
}

void write_file_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  out.close();
  GLM3D_USAGE_CHECK(out.good()) << "cannot write " << path;
}

std::string make_temp_store_dir(const std::string& out_dir) {
  const fs::path out = fs::absolute(out_dir).lexically_normal();
  const fs::path parent = out.has_filename() ? out.parent_path() : out.parent_path().parent_path();
  const std::string name =
      out.has_filename() ? out.filename().string() : out.parent_path().filename().string();
  std::error_code ec;
  fs::create_directories(parent, ec);
  const std::string tmp = (parent / (name + ".tmp-" + std::to_string(::getpid()))).string();
  fs::remove_all(tmp, ec);
  GLM3D_USAGE_CHECK(fs::create_directory(tmp, ec))
      << "glm3d prep: cannot create " << tmp << ": " << ec.message();
  return tmp;
}

namespace {
void remove_replaced(const std::string& old) {
  std::error_code ec;
  fs::remove_all(old, ec);
  if (ec) // the new store is in place: say so, but do not fail the prep for it
    std::fprintf(stderr, "glm3d: warning: the replaced store is left at %s: %s\n", old.c_str(),
                 ec.message().c_str());
}
} // namespace

void install_store(const std::string& tmp, const std::string& out_dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(out_dir, ec))) {
    fs::rename(tmp, out_dir, ec);
    GLM3D_USAGE_CHECK(!ec) << "glm3d prep: cannot rename " << tmp << " to " << out_dir << ": "
                           << ec.message();
    return;
  }
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, out_dir.c_str(), RENAME_EXCHANGE) == 0)
    return remove_replaced(tmp); // tmp now names the old store
  GLM3D_USAGE_CHECK(errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)
      << "glm3d prep: cannot exchange " << tmp << " with " << out_dir << ": " << std::strerror(errno);
  install_store_by_renames(tmp, out_dir);
}

void install_store_by_renames(const std::string& tmp, const std::string& out_dir) {
  const std::string old = tmp.substr(0, tmp.rfind(".tmp-")) + ".old-" + std::to_string(::getpid());
  std::error_code ec;
  fs::rename(out_dir, old, ec);
  GLM3D_USAGE_CHECK(!ec) << "glm3d prep: cannot move the old store " << out_dir << " aside to " << old << ": "
                         << ec.message();
  fs::rename(tmp, out_dir, ec);
  if (ec) {
    std::error_code undo;
    fs::rename(old, out_dir, undo);
    GLM3D_USAGE_FAIL() << "glm3d prep: cannot rename " << tmp << " to " << out_dir << ": " << ec.message()
                       << (undo ? " (the old store is left at " + old + ")"
                                : " (the old store is back in place)");
  }
  remove_replaced(old);
}

} // namespace glm3d
