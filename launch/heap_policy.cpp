#include "launch/heap_policy.h"

#include <cstdlib>
#include <cstring>
#include <malloc.h>

namespace glm3d {

bool keep_freed_memory_for_reuse() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) ||
      std::getenv("MALLOC_MMAP_MAX_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr)
    return false;
  // Both are needed: without mmap, large blocks come from the heap, and without trimming the
  // heap keeps them once freed (either alone measured no faster).
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1;
}

} // namespace glm3d
