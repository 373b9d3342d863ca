#include "core/format.h"

#include <cstdio>
#include <cstdlib>

namespace glm3d {

std::string shortest_repr(double v) {
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

} // namespace glm3d
