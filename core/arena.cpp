#include "core/arena.h"

#include "core/check.h"

#include <cstdlib>
#include <cstring>

namespace glm3d {

void Arena::Free::operator()(std::byte* p) const {
  std::free(p);
}

Arena::Arena(size_t bytes) : capacity_(align_up(bytes)) {
  // aligned_alloc needs a non-zero size that is a multiple of the alignment.
  const size_t alloc = capacity_ == 0 ? kAlign : capacity_;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(kAlign, alloc));
  GLM3D_CHECK(p != nullptr) << "arena: cannot allocate " << alloc << " bytes";
  std::memset(p, 0, alloc);
  data_.reset(p);
}

void* Arena::take(size_t bytes) {
  const size_t n = align_up(bytes);
  GLM3D_CHECK(data_ != nullptr) << "arena: take(" << bytes << ") from an empty (default-constructed) arena";
  GLM3D_CHECK(n <= capacity_ - used_) << "arena exhausted: asked for " << bytes << " bytes, " << used_
                                      << " of " << capacity_ << " already used";
  void* p = data_.get() + used_;
  used_ += n;
  return p;
}

} // namespace glm3d
