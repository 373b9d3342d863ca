#pragma once
// The C heap's policy for the step loops (train, finetune, eval, bench): freed memory stays in
// the process for the next micro-batch instead of going back to the kernel.
//
// glibc serves every allocation above its mmap threshold (at most 32 MB) with a fresh mmap and
// unmaps it on free, and returns the top of the heap past its trim threshold. A step's large
// activations (the LM head's probabilities [B*S, V/tp]: 262 MB on the peer model; dense
// attention's [B, heads, S, S]; layer outputs) were therefore page-faulted and zeroed by the
// kernel again in every micro-batch: 5.8% of a bf16 peer-model step's samples were in the
// kernel, 92% of its steady-state page faults from the head's buffer (perf, 2026-12-03). Like
// PyTorch's caching allocator, glm3d now keeps what it frees: no mmap-served blocks, no trimming.
// Peak RSS (VmHWM) is unchanged (the peak already held these buffers); the resident size no
// longer falls between steps. A user's own malloc settings (GLIBC_TUNABLES glibc.malloc.*,
// MALLOC_MMAP_MAX_, MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_) win: nothing is changed.
namespace glm3d {

// Returns whether the policy was applied.
bool keep_freed_memory_for_reuse();

} // namespace glm3d
