#include "train/iter_ranges.h"

#include "core/check.h"

#include <sstream>

namespace glm3d {

bool IterRanges::contains(int64_t step) const {
  for (const auto& [a, b] : ranges)
    if (step >= a && step <= b)
      return true;
  return false;
}

IterRanges parse_iter_ranges(const std::string& spec, const char* option) {
  IterRanges out;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int64_t a = 0, b = 0;
    char dash = 0, extra = 0;
    std::istringstream is(item);
    bool ok = bool(is >> a);
    if (ok && (is >> dash))
      ok = dash == '-' && bool(is >> b) && !(is >> extra);
    else
      b = a;
    GLM3D_USAGE_CHECK(ok && a >= 1 && b >= a)
        << option << " expects ranges of steps like 100-120 (1-based, first <= last), got '" << item << "'";
    out.ranges.emplace_back(a, b);
  }
  return out;
}

} // namespace glm3d
