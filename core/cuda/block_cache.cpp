// BlockCache: best-fit reuse per (stream, size class), splitting and merging within segments.
#include "core/cuda/block_cache.h"

#include "core/check.h"

#include <algorithm>
#include <sstream>

namespace glm3d::cuda {

std::string CacheStats::str() const {
  std::ostringstream os;
  os << "allocated " << allocated << " B (peak " << peak_allocated << "), reserved " << reserved
     << " B (peak " << peak_reserved << "), segments " << backend_allocs << " obtained / " << backend_frees
     << " returned, " << allocs << " allocs (" << cache_hits << " from cache), " << frees << " frees";
  return os.str();
}

bool BlockCache::BySize::operator()(const Block* a, const Block* b) const {
  if (a->size != b->size)
    return a->size < b->size;
  return a->ptr < b->ptr;
}

BlockCache::BlockCache(Backend backend) : backend_(std::move(backend)) {
  GLM3D_CHECK(backend_.alloc && backend_.free) << "BlockCache needs a backend alloc and free";
}

BlockCache::~BlockCache() {
  for (Block* head : segments_) {
    backend_.free(head->ptr);
    for (Block* b = head; b;) {
      Block* next = b->next;
      delete b;
      b = next;
    }
  }
}

size_t BlockCache::rounded_size(size_t bytes) {
  return std::max<size_t>(kRound, (bytes + kRound - 1) / kRound * kRound);
}

size_t BlockCache::segment_size(size_t rounded) {
  return is_small(rounded) ? kSmallSegment : (rounded + kLargeRound - 1) / kLargeRound * kLargeRound;
}

size_t BlockCache::cached_bytes() const {
  return stats_.reserved - stats_.allocated;
}

BlockCache::FreeList& BlockCache::free_list(StreamKey stream, bool small) {
  return free_[{stream, small}];
}

// The smallest free block of this stream and class that fits.
BlockCache::Block* BlockCache::take_free(size_t rounded, StreamKey stream, bool small) {
  FreeList& list = free_list(stream, small);
  Block key{nullptr, rounded, stream, small};
  auto it = list.lower_bound(&key);
  if (it == list.end())
    return nullptr;
  Block* b = *it;
  list.erase(it);
  return b;
}

BlockCache::Block* BlockCache::new_segment(size_t rounded, StreamKey stream, bool small) {
  const size_t bytes = segment_size(rounded);
  void* p = backend_.alloc(bytes);
  if (!p && cached_bytes() > 0) { // out of memory: give the cache back and try once more
    release_cached();
    p = backend_.alloc(bytes);
  }
  GLM3D_CHECK(p) << "device out of memory allocating a segment of " << bytes << " B (" << stats_.str() << ")";
  auto* b = new Block{static_cast<char*>(p), bytes, stream, small};
  segments_.push_back(b);
  stats_.reserved += bytes;
  stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
  ++stats_.backend_allocs;
  return b;
}

// Cuts b to `rounded` bytes when the rest is worth keeping; the rest goes to the free list.
void BlockCache::split(Block* b, size_t rounded) {
  const size_t rest = b->size - rounded;
  if (rest < (b->small ? kRound : kSmallMax))
    return;
  auto* r = new Block{b->ptr + rounded, rest, b->stream, b->small};
  r->prev = b;
  r->next = b->next;
  if (b->next)
    b->next->prev = r;
  b->next = r;
  b->size = rounded;
  free_list(r->stream, r->small).insert(r);
  ++stats_.splits;
}

// Joins b with free neighbours (removing them from the free list); returns the joined block.
BlockCache::Block* BlockCache::merge(Block* b) {
  FreeList& list = free_list(b->stream, b->small);
  if (b->next && !b->next->in_use) {
    Block* n = b->next;
    list.erase(n);
    b->size += n->size;
    b->next = n->next;
    if (n->next)
      n->next->prev = b;
    delete n;
    ++stats_.merges;
  }
  if (b->prev && !b->prev->in_use) {
    Block* p = b->prev;
    list.erase(p);
    p->size += b->size;
    p->next = b->next;
    if (b->next)
      b->next->prev = p;
    delete b;
    ++stats_.merges;
    b = p;
  }
  return b;
}

void BlockCache::note_alloc(Block* b, size_t requested) {
  b->in_use = true;
  b->requested = requested;
  live_[b->ptr] = b;
  stats_.allocated += b->size;
  stats_.requested += requested;
  stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
  ++stats_.allocs;
}

void* BlockCache::allocate(size_t bytes, StreamKey stream) {
  const size_t rounded = rounded_size(bytes);
  const bool small = is_small(rounded);
  Block* b = take_free(rounded, stream, small);
  if (b)
    ++stats_.cache_hits;
  else
    b = new_segment(rounded, stream, small);
  split(b, rounded);
  note_alloc(b, bytes);
  return b->ptr;
}

void BlockCache::free(void* ptr) {
  auto it = live_.find(ptr);
  GLM3D_CHECK(it != live_.end()) << "BlockCache::free of " << ptr
                                 << ", which is not a live allocation (double free or foreign pointer)";
  Block* b = it->second;
  live_.erase(it);
  stats_.allocated -= b->size;
  stats_.requested -= b->requested;
  ++stats_.frees;
  b->in_use = false;
  b->requested = 0;
  b = merge(b);
  free_list(b->stream, b->small).insert(b);
}

void BlockCache::release_cached() {
  std::vector<Block*> kept;
  for (Block* head : segments_) {
    if (head->in_use || head->next) { // in use, or cut into pieces of which one is in use
      kept.push_back(head);
      continue;
    }
    free_list(head->stream, head->small).erase(head);
    stats_.reserved -= head->size;
    ++stats_.backend_frees;
    backend_.free(head->ptr);
    delete head;
  }
  segments_ = std::move(kept);
}

} // namespace glm3d::cuda
