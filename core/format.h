#pragma once
// Numbers as people type them: the shortest decimal that reads back to the same double
// ("0.1", "1e-08", "0.95"), for help texts, settings and override lines.
#include <string>

namespace glm3d {

std::string shortest_repr(double v);

} // namespace glm3d
