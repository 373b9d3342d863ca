#pragma once
// Pipeline schedules as per-rank op lists. A rank executes its list in order; sends are
// non-blocking, receives wait for the matching send (see pipeline/executor.h). Every list
// holds, per (microbatch, chunk), exactly one forward and one backward (none in a
// forward-only list), with the receive before the compute and the send after it.
//
//   gpipe        all forwards, then all backwards; peak in-flight activations m.
//   one_f_one_b  warm-up min(pp - pp_rank - 1, m) forwards, then one forward + one backward
//                per step, then the remaining backwards; peak min(pp - pp_rank, m).
//   interleaved  Megatron's interleaved 1F1B over V model chunks per rank: m must be a
//                multiple of pp, warm-up min((pp - pp_rank - 1) * 2 + (V - 1) * pp, m * V)
//                and the chunk order of Megatron's get_model_chunk_id.
//
// The first virtual stage (rank 0, chunk 0) has no recv_forward/send_backward (it reads the
// batch); the last (rank pp-1, chunk V-1) has no send_forward/recv_backward (it computes the loss).
#include <string>
#include <vector>

namespace glm3d {

enum class ScheduleKind { gpipe, one_f_one_b, interleaved };
enum class OpKind { recv_forward, forward, send_forward, recv_backward, backward, send_backward };

struct PipeOp {
  OpKind kind;
  int microbatch;
  int chunk;
  bool operator==(const PipeOp&) const = default;
};

// Throws UsageError for combinations the schedule does not support (interleaved with V < 2,
// pp < 2 or m % pp != 0; gpipe / 1f1b with V > 1; m < 1).
std::vector<PipeOp> build_schedule(ScheduleKind kind, int pp, int pp_rank, int num_microbatches,
                                   int virtual_stages, bool forward_only = false);

// Forwards done before the first backward starts (Megatron's num_warmup_microbatches).
int warmup_forwards(ScheduleKind kind, int pp, int pp_rank, int num_microbatches, int virtual_stages);

// Largest number of (micro-batch, chunk) forwards whose backward has not run yet, over the op
// list: the activation sets a rank holds at its peak (chunk >= 0: that chunk's only).
// A forward-only list frees each forward at once (1). The memory model counts with it.
int peak_in_flight(const std::vector<PipeOp>& ops, int chunk = -1);

// Megatron's get_model_chunk_id / microbatch id for the k-th forward or backward of a rank
// under the interleaved schedule.
int interleaved_chunk(int k, int pp, int virtual_stages, bool forward);
int interleaved_microbatch(int k, int pp, int virtual_stages);

ScheduleKind parse_schedule(const std::string& name); // "gpipe" | "1f1b" | "interleaved"
std::string to_string(ScheduleKind kind);
std::string to_string(OpKind kind);
std::string to_string(const PipeOp& op); // "F(mb=3,c=1)"

} // namespace glm3d
