#pragma once
// Ring reduce-scatter and all-reduce over point-to-point messages, in place, with a bounded
// temporary buffer. Open MPI 4.1's own collectives allocate temporaries the size of the message
// (measured on this machine, VmHWM around one 200 MB call: MPI_Allreduce +50%, MPI_Iallreduce
// +100%, MPI_Reduce_scatter_block +100% at 2 ranks and +200% at 4), which would cost a ZeRO-1
// rank twice its gradient buffer at the reduce-scatter. These rings hold one chunk extra.
//
// Blocks: a buffer of `count` elements is cut into size() blocks of ceil(count / size) elements
// (the last ones shorter, possibly empty); block r is the one rank r reduces. Sums are formed in
// ring order (deterministic for a given group size), with MPI_Reduce_local, so user-defined
// operations (bf16) work.
#include <cstddef>
#include <mpi.h>

namespace glm3d {

struct RingArgs {
  MPI_Comm comm;
  int rank, size;
  MPI_Datatype type;
  size_t elem_bytes;
  MPI_Op op;
  size_t chunk_elems = size_t(1) << 20; // the temporary buffer: one chunk
};

// buf [count]: afterwards block `rank` holds the reduction over the ranks.
void ring_reduce_scatter(void* buf, size_t count, const RingArgs& a);
// buf [count]: afterwards every element holds the reduction over the ranks.
void ring_all_reduce(void* buf, size_t count, const RingArgs& a);

// [begin, end) of block b of `count` elements over `size` ranks.
inline void ring_block(size_t count, int size, int b, size_t& begin, size_t& end) {
  const size_t bs = (count + size_t(size) - 1) / size_t(size);
  begin = bs * size_t(b) < count ? bs * size_t(b) : count;
  end = begin + bs < count ? begin + bs : count;
}

} // namespace glm3d
