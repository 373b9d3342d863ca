#include "plan/pipeline_sim.h"

#include "core/check.h"

#include <algorithm>
#include <sstream>

namespace glm3d {

double PipelineTrace::bubble_fraction() const {
  if (makespan <= 0)
    return 0;
  return (makespan - *std::max_element(busy.begin(), busy.end())) / makespan;
}

int PipelineTrace::busiest_rank() const {
  return int(std::max_element(busy.begin(), busy.end()) - busy.begin());
}

PipelineTrace simulate_pipeline(ScheduleKind kind, int pp, int m, int v, const StageCosts& c) {
  GLM3D_CHECK(int(c.fwd.size()) == pp && int(c.bwd.size()) == pp && int(c.hop.size()) == pp * v - 1)
      << "stage costs for pp=" << pp << " v=" << v;
  std::vector<std::vector<PipeOp>> ops(static_cast<size_t>(pp));
  for (int r = 0; r < pp; ++r)
    ops[size_t(r)] = build_schedule(kind, pp, r, m, v);
  // Arrival time of the forward input / backward gradient of (virtual stage, micro-batch); < 0: not sent.
  const size_t stages = size_t(pp) * size_t(v);
  std::vector<double> fwd_at(stages * size_t(m), -1), bwd_at(stages * size_t(m), -1);
  const auto at = [&](std::vector<double>& a, int s, int mb) -> double& {
    return a[size_t(s) * size_t(m) + size_t(mb)];
  };

  PipelineTrace t;
  t.busy.assign(size_t(pp), 0);
  t.end.assign(size_t(pp), 0);
  t.spans.assign(size_t(pp), {});
  std::vector<size_t> pc(size_t(pp), 0);
  std::vector<double> clock(size_t(pp), 0);
  for (bool progress = true; progress;) {
    progress = false;
    for (int r = 0; r < pp; ++r) {
      auto& now = clock[size_t(r)];
      for (; pc[size_t(r)] < ops[size_t(r)].size(); ++pc[size_t(r)], progress = true) {
        const PipeOp& op = ops[size_t(r)][pc[size_t(r)]];
        const int s = op.chunk * pp + r, mb = op.microbatch;
        if (op.kind == OpKind::recv_forward || op.kind == OpKind::recv_backward) {
          const double arrival = at(op.kind == OpKind::recv_forward ? fwd_at : bwd_at, s, mb);
          if (arrival < 0)
            break; // its send has not been posted yet
          now = std::max(now, arrival);
        } else if (op.kind == OpKind::send_forward) {
          at(fwd_at, s + 1, mb) = now + c.hop[size_t(s)];
        } else if (op.kind == OpKind::send_backward) {
          at(bwd_at, s - 1, mb) = now + c.hop[size_t(s - 1)];
        } else {
          const bool f = op.kind == OpKind::forward;
          const double d = (f ? c.fwd : c.bwd)[size_t(r)][size_t(op.chunk)];
          t.spans[size_t(r)].push_back({op, now, now + d});
          now += d;
          t.busy[size_t(r)] += d;
        }
      }
    }
  }
  for (int r = 0; r < pp; ++r) {
    GLM3D_CHECK(pc[size_t(r)] == ops[size_t(r)].size())
        << "pipeline simulation deadlocked: rank " << r << " at op "
        << to_string(ops[size_t(r)][pc[size_t(r)]]);
    t.end[size_t(r)] = clock[size_t(r)];
  }
  t.makespan = *std::max_element(t.end.begin(), t.end.end());
  return t;
}

std::string trace_chart(const PipelineTrace& t, int width) {
  std::ostringstream os;
  const double dt = t.makespan / width;
  for (size_t r = 0; r < t.spans.size(); ++r) {
    std::vector<double> f(size_t(width), 0), b(size_t(width), 0);
    for (const OpSpan& sp : t.spans[r]) {
      auto& acc = sp.op.kind == OpKind::forward ? f : b;
      for (int col = std::max(0, int(sp.start / dt)); col < width && col * dt < sp.end; ++col)
        acc[size_t(col)] += std::min(sp.end, (col + 1) * dt) - std::max(sp.start, col * dt);
    }
    os << "rank " << r << (r < 10 ? "  " : " ") << "|";
    for (int col = 0; col < width; ++col) {
      const double idle = dt - f[size_t(col)] - b[size_t(col)];
      os << (idle >= f[size_t(col)] && idle >= b[size_t(col)] ? '.'
             : f[size_t(col)] >= b[size_t(col)]               ? 'F'
                                                              : 'B');
    }
    os << "|\n";
  }
  return os.str();
}

} // namespace glm3d
