#include "core/process_memory.h"

#include <fstream>
#include <sstream>
#include <string>

namespace glm3d {

namespace {
int64_t status_kb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      std::istringstream is(line.substr(key.size()));
      int64_t kb = -1;
      is >> kb;
      return kb < 0 ? -1 : kb * 1024;
    }
  return -1;
}
} // namespace

int64_t peak_rss_bytes() {
  return status_kb("VmHWM:");
}

int64_t current_rss_bytes() {
  return status_kb("VmRSS:");
}

} // namespace glm3d
