#pragma once
// Arena: one aligned allocation carved into pieces by bumping an offset. The
// model's parameters, gradients, optimizer state and activations each live in
// one arena, built from a size table, so sharding becomes (offset, length).
#include <cstddef>
#include <memory>

namespace glm3d {

class Arena {
public:
  static constexpr size_t kAlign = 64;
  Arena() = default;
  explicit Arena(size_t bytes); // allocates and zero-fills `bytes` (rounded up to kAlign)
  Arena(Arena&&) noexcept = default;
  Arena& operator=(Arena&&) noexcept = default;

  // Next `bytes` of the arena (aligned to kAlign); throws when the arena is exhausted.
  void* take(size_t bytes);
  void reset() { used_ = 0; } // forget all pieces (memory kept)
  size_t capacity() const { return capacity_; }
  size_t used() const { return used_; }
  std::byte* base() const { return data_.get(); }

private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t capacity_ = 0;
  size_t used_ = 0;
};

inline size_t align_up(size_t n, size_t a = Arena::kAlign) {
  return (n + a - 1) / a * a;
}

} // namespace glm3d
