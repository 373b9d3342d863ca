#pragma once
// A deadlock checker for pipeline op lists: all pp ranks execute their lists together,
// sends never block, a receive blocks until its matching send (same microbatch and
// direction, from the neighbour virtual stage) has been posted. Also checks the data flow
// of each rank (receive before compute before send, each forward and backward exactly
// once per (microbatch, chunk), backward after forward) and records the peak number of
// in-flight activations (forwards whose backward has not run) per rank.
#include "pipeline/schedule.h"

#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace glm3d::test {

struct SimResult {
  std::string error; // empty when every rank finished its list cleanly
  std::vector<int> peak_in_flight;
};

inline SimResult simulate(const std::vector<std::vector<PipeOp>>& ops, int pp, int v, int m,
                          bool forward_only = false) {
  SimResult res;
  res.peak_in_flight.assign(size_t(pp), 0);
  using Key = std::tuple<int, int, int>;                    // (rank, microbatch, chunk)
  std::set<std::tuple<int, int, int, int>> sent;            // (from rank, kind, mb, chunk), not yet received
  std::set<Key> received_f, received_b, fwd_done, bwd_done; // per rank state
  std::vector<size_t> pc(size_t(pp), 0);
  std::vector<int> in_flight(size_t(pp), 0);
  std::ostringstream err;
  const auto fail = [&](int r, const PipeOp& op, const std::string& why) {
    if (err.tellp() == 0)
      err << "rank " << r << " op " << to_string(op) << ": " << why;
  };
  // The virtual stage that sends forward into (r, c) / backward into (r, c): rank and chunk.
  const auto prev_stage = [&](int r, int c) {
    return r > 0 ? std::pair{r - 1, c} : std::pair{pp - 1, c - 1};
  };
  const auto next_stage = [&](int r, int c) {
    return r < pp - 1 ? std::pair{r + 1, c} : std::pair{0, c + 1};
  };

  bool progress = true;
  while (progress && err.tellp() == 0) {
    progress = false;
    for (int r = 0; r < pp && err.tellp() == 0; ++r) {
      while (pc[r] < ops[r].size() && err.tellp() == 0) {
        const PipeOp& op = ops[r][pc[r]];
        const Key key{r, op.microbatch, op.chunk};
        if (op.microbatch < 0 || op.microbatch >= m || op.chunk < 0 || op.chunk >= v) {
          fail(r, op, "microbatch or chunk out of range");
          break;
        }
        const bool first = r == 0 && op.chunk == 0, last = r == pp - 1 && op.chunk == v - 1;
        bool blocked = false;
        switch (op.kind) {
        case OpKind::recv_forward:
        case OpKind::recv_backward: {
          const bool f = op.kind == OpKind::recv_forward;
          if (f ? first : last) {
            fail(r, op, "the first/last stage has nothing to receive");
            break;
          }
          const auto [sr, sc] = f ? prev_stage(r, op.chunk) : next_stage(r, op.chunk);
          const auto skind = int(f ? OpKind::send_forward : OpKind::send_backward);
          auto it = sent.find({sr, skind, op.microbatch, sc});
          if (it == sent.end()) { // wait for the send
            blocked = true;
            break;
          }
          sent.erase(it);
          if (!(f ? received_f : received_b).insert(key).second)
            fail(r, op, "received twice");
          break;
        }
        case OpKind::forward:
          if (!first && !received_f.count(key))
            fail(r, op, "forward before its input arrived");
          if (!fwd_done.insert(key).second)
            fail(r, op, "forward twice");
          res.peak_in_flight[r] = std::max(res.peak_in_flight[r], ++in_flight[r]);
          break;
        case OpKind::backward:
          if (!fwd_done.count(key))
            fail(r, op, "backward before forward");
          if (!last && !received_b.count(key))
            fail(r, op, "backward before its gradient arrived");
          if (!bwd_done.insert(key).second)
            fail(r, op, "backward twice");
          --in_flight[r];
          break;
        case OpKind::send_forward:
        case OpKind::send_backward: {
          const bool f = op.kind == OpKind::send_forward;
          if (f ? last : first)
            fail(r, op, "the last/first stage has nowhere to send");
          if (!(f ? fwd_done : bwd_done).count(key))
            fail(r, op, "send before compute");
          if (!sent.insert({r, int(op.kind), op.microbatch, op.chunk}).second)
            fail(r, op, "sent twice");
          break;
        }
        }
        if (blocked)
          break;
        ++pc[r];
        progress = true;
      }
    }
  }
  if (err.tellp() == 0) {
    for (int r = 0; r < pp; ++r)
      if (pc[r] < ops[r].size()) {
        err << "deadlock: rank " << r << " blocked at op " << pc[r] << " " << to_string(ops[r][pc[r]]);
        break;
      }
  }
  if (err.tellp() == 0 && !sent.empty())
    err << sent.size() << " sends never received";
  if (err.tellp() == 0) {
    const size_t want = size_t(pp) * size_t(m) * size_t(v);
    if (fwd_done.size() != want)
      err << "forwards: " << fwd_done.size() << ", expected " << want;
    else if (bwd_done.size() != (forward_only ? 0 : want))
      err << "backwards: " << bwd_done.size() << ", expected " << (forward_only ? 0 : want);
  }
  res.error = err.str();
  return res;
}

} // namespace glm3d::test
