#include "train/preflight.h"

#include "core/check.h"
#include "core/output_path.h"
#include "parallel/agreement.h"
#include "parallel/node_layout.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace glm3d {

namespace fs = std::filesystem;

namespace {

// Creates DIR if needed and proves it writable with a probe file.
void check_save_dir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    GLM3D_USAGE_CHECK(fs::is_directory(dir, ec)) << "--save " << dir << " is not a directory";
  } else {
    fs::create_directories(dir, ec);
    GLM3D_USAGE_CHECK(!ec) << "--save " << dir << ": cannot create the directory: " << ec.message();
  }
  const std::string probe = (fs::path(dir) / ".glm3d_write_probe").string();
  {
    std::ofstream out(probe, std::ios::trunc);
    out << "probe\n";
    GLM3D_USAGE_CHECK(out.good()) << "--save " << dir << ": the directory is not writable";
  }
  fs::remove(probe, ec);
}

// The first number after `key` in a /proc-style file, in bytes (`kB` suffix honoured); -1 if absent.
int64_t read_key(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      std::istringstream is(line.substr(key.size()));
      int64_t v = -1;
      std::string unit;
      is >> v >> unit;
      return unit == "kB" ? v * 1024 : v;
    }
  return -1;
}

int64_t read_number(const char* file) {
  std::ifstream in(file);
  std::string s;
  if (!(in >> s) || s == "max")
    return -1;
  return std::strtoll(s.c_str(), nullptr, 10);
}

// What the node offers this process tree: MemAvailable, capped by the cgroup (v2 or v1).
int64_t node_available_bytes() {
  if (const char* env = std::getenv("GLM3D_MEMORY_AVAILABLE"))
    return std::strtoll(env, nullptr, 10);
  int64_t avail = read_key("/proc/meminfo", "MemAvailable:");
  const std::pair<const char*, const char*> cgroups[] = {
      {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
      {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"}};
  for (const auto& [limit_file, usage_file] : cgroups) {
    const int64_t limit = read_number(limit_file), usage = read_number(usage_file);
    if (limit > 0 && usage >= 0 && limit < (int64_t(1) << 60))
      avail = avail < 0 ? limit - usage : std::min(avail, limit - usage);
  }
  return avail;
}

} // namespace

void check_output_paths(const TrainOptions& opt, bool resuming, MPI_Comm world) {
  (void)resuming;
  run_on_root(world, 0, [&] {
    if (!opt.save_dir.empty())
      check_save_dir(opt.save_dir);
    if (!opt.metrics_file.empty())
      check_output_file("--metrics", opt.metrics_file);
  });
}

int64_t available_bytes_per_rank(MPI_Comm world) {
  const int64_t avail = node_available_bytes();
  return avail < 0 ? -1 : avail / node_layout(world).local_size;
}

void check_memory_fits(const RankMemory& need, MPI_Comm world) {
  int64_t needed = need.total() + k_process_baseline_bytes;
  int64_t avail = available_bytes_per_rank(world);
  if (avail < 0)
    avail = INT64_MAX; // unknown: do not refuse
  if (mpi_active()) {
    MPI_Allreduce(MPI_IN_PLACE, &needed, 1, MPI_INT64_T, MPI_MAX, world);
    MPI_Allreduce(MPI_IN_PLACE, &avail, 1, MPI_INT64_T, MPI_MIN, world);
  }
  GLM3D_USAGE_CHECK(needed <= avail) << "needs about " << format_bytes(double(needed)) << " per rank, "
                                     << format_bytes(double(avail))
                                     << " available; try --tp/--pp/--zero 1/--recompute full "
                                        "(or --skip-memory-check to run anyway)";
}

} // namespace glm3d
