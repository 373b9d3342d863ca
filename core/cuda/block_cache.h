#pragma once
// BlockCache: the bookkeeping of a caching device allocator, with no CUDA in it (tested on
// the CPU with a fake backend; core/cuda/allocator.h puts cudaMalloc/cudaFree behind it).
//
// Memory comes from the backend in segments; a segment is cut into blocks. Freed blocks stay
// cached and are handed out again, best fit, to the next request of the same stream and size
// class; neighbours that are both free merge again. A block freed on stream s is reused only
// for stream s, so stream order alone keeps a reuse from racing the kernels still reading it
// (a buffer used on another stream must be synchronised by its user before it is freed).
//
// Size classes: every request is rounded up to kRound bytes. Requests up to kSmallMax come
// from kSmallSegment segments (the small pool), larger ones from segments of their own size
// rounded to kLargeRound (the large pool). A block is split when the rest is at least kRound
// (small pool) or kSmallMax (large pool), so small leftovers never fragment the large pool.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace glm3d::cuda {

using StreamKey = const void*; // a cudaStream_t, as an opaque key

struct CacheStats {
  size_t allocated = 0;      // bytes in blocks handed out (rounded sizes)
  size_t requested = 0;      // bytes asked for by the callers of the blocks handed out
  size_t reserved = 0;       // bytes in segments obtained from the backend
  size_t peak_allocated = 0; // high-water mark of `allocated`
  size_t peak_reserved = 0;
  uint64_t backend_allocs = 0, backend_frees = 0; // segments obtained / returned
  uint64_t allocs = 0, frees = 0, cache_hits = 0; // cache_hits: served without a backend call
  uint64_t splits = 0, merges = 0;
  std::string str() const;
};

class BlockCache {
public:
  static constexpr size_t kRound = 512;
  static constexpr size_t kSmallMax = size_t(1) << 20;     // 1 MiB
  static constexpr size_t kSmallSegment = size_t(2) << 20; // 2 MiB
  static constexpr size_t kLargeRound = size_t(2) << 20;   // 2 MiB

  // alloc(bytes) returns memory or null when out of memory; free(ptr) releases a segment.
  struct Backend {
    std::function<void*(size_t)> alloc;
    std::function<void(void*)> free;
  };

  explicit BlockCache(Backend backend);
  ~BlockCache(); // returns every segment; blocks still handed out are lost (a leak is the caller's bug)
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // A block of at least `bytes` (0 gives a valid kRound block) for use on `stream`. When the
  // backend fails, the cached free segments are returned to it and the request retried once;
  // then glm3d::Error with the stats.
  void* allocate(size_t bytes, StreamKey stream);
  // Back to the cache. Throws glm3d::Error for a pointer not handed out (or already freed).
  void free(void* ptr);
  // Returns every wholly free segment to the backend (e.g. before a large allocation elsewhere).
  void release_cached();

  const CacheStats& stats() const { return stats_; }
  size_t cached_bytes() const; // reserved - allocated
  // The size class a request lands in: the rounded size and whether it is small-pool.
  static size_t rounded_size(size_t bytes);
  static bool is_small(size_t rounded) { return rounded <= kSmallMax; }
  static size_t segment_size(size_t rounded);

private:
  struct Block {
    char* ptr;
    size_t size;
    StreamKey stream;
    bool small;
    bool in_use = false;
    size_t requested = 0;
    Block* prev = nullptr; // neighbours in the same segment
    Block* next = nullptr;
  };
  struct BySize {
    bool operator()(const Block* a, const Block* b) const;
  };
  using FreeList = std::set<Block*, BySize>;

  FreeList& free_list(StreamKey stream, bool small);
  Block* take_free(size_t rounded, StreamKey stream, bool small);
  Block* new_segment(size_t rounded, StreamKey stream, bool small);
  void split(Block* b, size_t rounded);
  Block* merge(Block* b);
  void note_alloc(Block* b, size_t requested);

  Backend backend_;
  std::map<std::pair<StreamKey, bool>, FreeList> free_; // (stream, small) -> free blocks
  std::map<const void*, Block*> live_;                  // handed out, by pointer
  std::vector<Block*> segments_;                        // first block of each segment
  CacheStats stats_;
};

} // namespace glm3d::cuda
