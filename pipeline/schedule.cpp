// Pipeline schedules: GPipe, 1F1B and interleaved 1F1B as per-rank op lists.
#include "pipeline/schedule.h"

#include "core/check.h"
#include "pipeline/partition.h"

#include <algorithm>

namespace glm3d {

namespace {

// Appends recv / compute / send of one forward or backward, leaving out the transfers the
// first and last virtual stages do not have.
class OpWriter {
public:
  OpWriter(int pp, int pp_rank, int virtual_stages) : pp_(pp), rank_(pp_rank), v_(virtual_stages) {}

  void forward(int mb, int chunk) {
    if (!is_first_stage(rank_, chunk))
      ops.push_back({OpKind::recv_forward, mb, chunk});
    ops.push_back({OpKind::forward, mb, chunk});
    if (!is_last_stage(pp_, rank_, chunk, v_))
      ops.push_back({OpKind::send_forward, mb, chunk});
  }
  void backward(int mb, int chunk) {
    if (!is_last_stage(pp_, rank_, chunk, v_))
      ops.push_back({OpKind::recv_backward, mb, chunk});
    ops.push_back({OpKind::backward, mb, chunk});
    if (!is_first_stage(rank_, chunk))
      ops.push_back({OpKind::send_backward, mb, chunk});
  }

  std::vector<PipeOp> ops;

private:
  int pp_, rank_, v_;
};

void check_supported(ScheduleKind kind, int pp, int pp_rank, int m, int v) {
  GLM3D_CHECK(pp >= 1 && pp_rank >= 0 && pp_rank < pp) << "pp=" << pp << " pp_rank=" << pp_rank;
  const std::string what = "--schedule " + to_string(kind) + " with pp=" + std::to_string(pp) +
                           " micro-batches=" + std::to_string(m) + " virtual-stages=" + std::to_string(v);
  GLM3D_USAGE_CHECK(m >= 1) << what << ": needs at least one micro-batch";
  GLM3D_USAGE_CHECK(v >= 1) << what << ": virtual stages must be >= 1";
  if (kind == ScheduleKind::interleaved) {
    GLM3D_USAGE_CHECK(v >= 2) << what << ": the interleaved schedule needs --virtual-stages >= 2";
    GLM3D_USAGE_CHECK(pp >= 2) << what << ": the interleaved schedule needs pp >= 2";
    GLM3D_USAGE_CHECK(m % pp == 0) << what
                                   << ": the interleaved schedule needs micro-batches divisible by pp";
  } else {
    GLM3D_USAGE_CHECK(v == 1) << what << ": virtual stages need --schedule interleaved";
  }
}

} // namespace

int interleaved_chunk(int k, int pp, int virtual_stages, bool forward) {
  const int chunk = (k % (pp * virtual_stages)) / pp;
  return forward ? chunk : virtual_stages - 1 - chunk;
}

int interleaved_microbatch(int k, int pp, int virtual_stages) {
  return (k / (pp * virtual_stages)) * pp + k % pp;
}

int warmup_forwards(ScheduleKind kind, int pp, int pp_rank, int m, int v) {
  check_supported(kind, pp, pp_rank, m, v);
  switch (kind) {
  case ScheduleKind::gpipe:
    return m;
  case ScheduleKind::one_f_one_b:
    return std::min(pp - pp_rank - 1, m);
  case ScheduleKind::interleaved:
    // Megatron also makes everything warm-up when m == pp, because its combined send+recv
    // calls block; our sends never block and the deadlock checker passes without it, so the
    // peak of in-flight activations stays at warm-up + 1.
    return std::min((pp - pp_rank - 1) * 2 + (v - 1) * pp, m * v);
  }
  GLM3D_FAIL() << "unknown schedule kind " << int(kind);
}

std::vector<PipeOp> build_schedule(ScheduleKind kind, int pp, int pp_rank, int m, int v, bool forward_only) {
  const int warmup = warmup_forwards(kind, pp, pp_rank, m, v);
  OpWriter w(pp, pp_rank, v);
  // The k-th forward / backward of this rank as (microbatch, chunk).
  const auto fwd = [&](int k) {
    if (kind == ScheduleKind::interleaved)
      w.forward(interleaved_microbatch(k, pp, v), interleaved_chunk(k, pp, v, true));
    else
      w.forward(k, 0);
  };
  const auto bwd = [&](int k) {
    if (kind == ScheduleKind::interleaved)
      w.backward(interleaved_microbatch(k, pp, v), interleaved_chunk(k, pp, v, false));
    else
      w.backward(k, 0);
  };
  const int total = m * v;
  if (forward_only) {
    for (int k = 0; k < total; ++k)
      fwd(k);
    return std::move(w.ops);
  }
  for (int k = 0; k < warmup; ++k)
    fwd(k);
  for (int k = 0; k < total - warmup; ++k) { // steady state: one forward, one backward
    fwd(warmup + k);
    bwd(k);
  }
  for (int k = total - warmup; k < total; ++k)
    bwd(k); // cool-down
  return std::move(w.ops);
}

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "gpipe")
    return ScheduleKind::gpipe;
  if (name == "1f1b")
    return ScheduleKind::one_f_one_b;
  if (name == "interleaved")
    return ScheduleKind::interleaved;
  GLM3D_USAGE_FAIL() << "unknown --schedule '" << name << "': expected gpipe, 1f1b or interleaved";
}

std::string to_string(ScheduleKind kind) {
  switch (kind) {
  case ScheduleKind::gpipe:
    return "gpipe";
  case ScheduleKind::one_f_one_b:
    return "1f1b";
  case ScheduleKind::interleaved:
    return "interleaved";
  }
  return "?";
}

std::string to_string(OpKind kind) {
  switch (kind) {
  case OpKind::recv_forward:
    return "recvF";
  case OpKind::forward:
    return "F";
  case OpKind::send_forward:
    return "sendF";
  case OpKind::recv_backward:
    return "recvB";
  case OpKind::backward:
    return "B";
  case OpKind::send_backward:
    return "sendB";
  }
  return "?";
}

std::string to_string(const PipeOp& op) {
  return to_string(op.kind) + "(mb=" + std::to_string(op.microbatch) + ",c=" + std::to_string(op.chunk) + ")";
}

int peak_in_flight(const std::vector<PipeOp>& ops, int chunk) {
  int now = 0, peak = 0;
  bool any_backward = false;
  for (const PipeOp& op : ops) {
    if (chunk >= 0 && op.chunk != chunk)
      continue;
    if (op.kind == OpKind::forward)
      peak = std::max(peak, ++now);
    else if (op.kind == OpKind::backward)
      --now, any_backward = true;
  }
  return any_backward ? peak : std::min(peak, 1);
}

} // namespace glm3d
