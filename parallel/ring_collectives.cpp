#include "parallel/ring_collectives.h"

#include "parallel/mpi_check.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace glm3d {

namespace {

int left(const RingArgs& a) {
  return (a.rank - 1 + a.size) % a.size;
}
int right(const RingArgs& a) {
  return (a.rank + 1) % a.size;
}
int wrap(int b, int size) {
  return ((b % size) + size) % size;
}

// Every rank makes the same number of exchanges per step (chunks of the nominal block), so the
// k-th message of a block has the same size at its sender and its receiver; short or empty last
// blocks simply send fewer (or zero) elements in some of them.
size_t exchanges(size_t count, const RingArgs& a) {
  const size_t bs = (count + size_t(a.size) - 1) / size_t(a.size);
  return (bs + a.chunk_elems - 1) / a.chunk_elems;
}

// Sends block `send_b` to the right neighbour and reduces the left neighbour's block `recv_b`
// into this rank's copy, chunk by chunk through `tmp`.
void exchange_reduce(uint8_t* buf, size_t count, int send_b, int recv_b, std::vector<uint8_t>& tmp,
                     const RingArgs& a) {
  size_t sb, se, rb, re;
  ring_block(count, a.size, send_b, sb, se);
  ring_block(count, a.size, recv_b, rb, re);
  const size_t n_send = se - sb, n_recv = re - rb, k = exchanges(count, a);
  for (size_t c = 0, off = 0; c < k; ++c, off += a.chunk_elems) {
    const size_t s = off < n_send ? std::min(a.chunk_elems, n_send - off) : 0;
    const size_t r = off < n_recv ? std::min(a.chunk_elems, n_recv - off) : 0;
    MPI_CHECK(MPI_Sendrecv(buf + (sb + off) * a.elem_bytes, int(s), a.type, right(a), 0, tmp.data(), int(r),
                           a.type, left(a), 0, a.comm, MPI_STATUS_IGNORE));
    if (r)
      MPI_CHECK(MPI_Reduce_local(tmp.data(), buf + (rb + off) * a.elem_bytes, int(r), a.type, a.op));
  }
}

// Sends block `send_b` to the right and receives block `recv_b` from the left, in place.
void exchange_copy(uint8_t* buf, size_t count, int send_b, int recv_b, const RingArgs& a) {
  size_t sb, se, rb, re;
  ring_block(count, a.size, send_b, sb, se);
  ring_block(count, a.size, recv_b, rb, re);
  const size_t n_send = se - sb, n_recv = re - rb, k = exchanges(count, a);
  for (size_t c = 0, off = 0; c < k; ++c, off += a.chunk_elems) {
    const size_t s = off < n_send ? std::min(a.chunk_elems, n_send - off) : 0;
    const size_t r = off < n_recv ? std::min(a.chunk_elems, n_recv - off) : 0;
    MPI_CHECK(MPI_Sendrecv(buf + (sb + off) * a.elem_bytes, int(s), a.type, right(a), 1,
                           buf + (rb + off) * a.elem_bytes, int(r), a.type, left(a), 1, a.comm,
                           MPI_STATUS_IGNORE));
  }
}

} // namespace

// Step s: send block r-1-s (partly reduced), receive block r-2-s and reduce it; after size-1
// steps block r holds every rank's contribution.
void ring_reduce_scatter(void* buf, size_t count, const RingArgs& a) {
  if (a.size == 1)
    return;
  std::vector<uint8_t> tmp(std::min(a.chunk_elems, (count + a.size - 1) / a.size) * a.elem_bytes);
  auto* b = static_cast<uint8_t*>(buf);
  for (int s = 0; s < a.size - 1; ++s)
    exchange_reduce(b, count, wrap(a.rank - 1 - s, a.size), wrap(a.rank - 2 - s, a.size), tmp, a);
}

// The reduce-scatter, then an all-gather of the reduced blocks around the same ring.
void ring_all_reduce(void* buf, size_t count, const RingArgs& a) {
  if (a.size == 1)
    return;
  ring_reduce_scatter(buf, count, a);
  auto* b = static_cast<uint8_t*>(buf);
  for (int s = 0; s < a.size - 1; ++s)
    exchange_copy(b, count, wrap(a.rank - s, a.size), wrap(a.rank - 1 - s, a.size), a);
}

} // namespace glm3d
