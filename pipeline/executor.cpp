// PipelineExecutor: op list -> StageCompute calls and non-blocking p2p.
#include "pipeline/executor.h"

#include "core/clock.h"

#include "core/check.h"
#include "pipeline/partition.h"

#include <algorithm>

namespace glm3d {

namespace {

bool is_recv(OpKind k) {
  return k == OpKind::recv_forward || k == OpKind::recv_backward;
}
bool is_compute(OpKind k) {
  return k == OpKind::forward || k == OpKind::backward;
}

// Runs f, adding its wall time to seconds.
template <class F> void timed(double& seconds, const F& f) {
  const auto t0 = Clock::now();
  f();
  seconds += seconds_since(t0);
}

} // namespace

PipelineTimes& PipelineTimes::operator+=(const PipelineTimes& o) {
  compute_s += o.compute_s;
  wait_s += o.wait_s;
  total_s += o.total_s;
  forwards += o.forwards;
  backwards += o.backwards;
  return *this;
}

PipelineExecutor::PipelineExecutor(Communicator& pp, int virtual_stages)
    : pp_(pp), virtual_stages_(virtual_stages), rank_(pp.rank()), stages_(pp.size()) {
  GLM3D_CHECK(virtual_stages >= 1) << "virtual_stages=" << virtual_stages;
}

std::vector<float> PipelineExecutor::take_buffer(int64_t n) {
  GLM3D_CHECK(n > 0) << "activation_size must be positive, got " << n;
  // Reuse the smallest pooled buffer that is large enough, so a step allocates nothing
  // once the pool has warmed up.
  auto best = pool_.end();
  for (auto it = pool_.begin(); it != pool_.end(); ++it)
    if (int64_t(it->capacity()) >= n && (best == pool_.end() || it->capacity() < best->capacity()))
      best = it;
  std::vector<float> b;
  if (best != pool_.end()) {
    b = std::move(*best);
    pool_.erase(best);
  }
  b.resize(size_t(n));
  return b;
}

void PipelineExecutor::post_recv(const PipeOp& op, StageCompute& compute) {
  const Key key{op.microbatch, op.chunk};
  const bool fwd = op.kind == OpKind::recv_forward;
  auto& slots = fwd ? inputs_ : grads_in_;
  if (slots.count(key))
    return; // already posted ahead
  // The sender is the previous virtual stage (forward) or the next one (backward).
  const int peer = fwd ? (rank_ + stages_ - 1) % stages_ : (rank_ + 1) % stages_;
  const int sender_chunk =
      fwd ? (rank_ > 0 ? op.chunk : op.chunk - 1) : (rank_ < stages_ - 1 ? op.chunk : op.chunk + 1);
  GLM3D_CHECK(sender_chunk >= 0 && sender_chunk < virtual_stages_) << "no sender for " << to_string(op);
  Slot s;
  s.buf = take_buffer(compute.activation_size(op.chunk, op.microbatch));
  s.req =
      pp_.irecv(s.buf.data(), s.buf.size(), DType::f32, peer, tag(op.microbatch, sender_chunk, fwd ? 0 : 1));
  slots.emplace(key, std::move(s));
}

void PipelineExecutor::wait_recv(std::map<Key, Slot>& slots, const Key& key, PipelineTimes& t) {
  auto it = slots.find(key);
  GLM3D_CHECK(it != slots.end()) << "receive for microbatch " << key.first << " chunk " << key.second
                                 << " was never posted";
  timed(t.wait_s, [&] { it->second.req->wait(); });
}

void PipelineExecutor::reap_sends(bool wait_all, PipelineTimes& t) {
  const auto t0 = Clock::now();
  for (auto it = sends_.begin(); it != sends_.end();) {
    if (wait_all)
      it->req->wait();
    if (wait_all || it->req->test()) {
      give_back(std::move(it->buf));
      it = sends_.erase(it);
    } else {
      ++it;
    }
  }
  if (wait_all)
    t.wait_s += seconds_since(t0);
}

void PipelineExecutor::abandon() noexcept {
  // After a failure the process is on its way to MPI_Abort. Waiting for transfers whose
  // peers may never match them would hang, and freeing their buffers would let MPI write
  // into freed memory, so the pending requests and their buffers are deliberately leaked.
  for (auto* slots : {&inputs_, &grads_in_})
    for (auto& [key, s] : *slots) {
      static_cast<void>(s.req.release());
      static_cast<void>(new std::vector<float>(std::move(s.buf)));
    }
  for (auto& s : sends_) {
    static_cast<void>(s.req.release());
    static_cast<void>(new std::vector<float>(std::move(s.buf)));
  }
  produced_.clear();
  inputs_.clear();
  grads_in_.clear();
  sends_.clear();
}

std::map<PipelineExecutor::Key, PipelineExecutor::Slot>::iterator
PipelineExecutor::received(std::map<Key, Slot>& slots, const Key& key, const PipeOp& op, const char* recv) {
  const auto it = slots.find(key);
  GLM3D_CHECK(it != slots.end()) << to_string(op) << " before its " << recv;
  return it;
}

std::vector<float> PipelineExecutor::handed_on(const PipeOp& op, StageCompute& compute, bool needed) {
  return needed ? take_buffer(compute.activation_size(op.chunk, op.microbatch)) : std::vector<float>{};
}

void PipelineExecutor::run_forward(const PipeOp& op, StageCompute& compute, PipelineTimes& t) {
  const Key key{op.microbatch, op.chunk};
  const bool first = is_first_stage(rank_, op.chunk);
  const bool last = is_last_stage(stages_, rank_, op.chunk, virtual_stages_);
  const float* in = first ? nullptr : received(inputs_, key, op, "recv_forward")->second.buf.data();
  std::vector<float> out = handed_on(op, compute, !last);
  timed(t.compute_s, [&] { compute.forward(op.chunk, op.microbatch, in, last ? nullptr : out.data()); });
  ++t.forwards;
  if (!last)
    produced_[{op.microbatch, op.chunk, 0}] = std::move(out); // for send_forward
}

void PipelineExecutor::run_backward(const PipeOp& op, StageCompute& compute, PipelineTimes& t) {
  const Key key{op.microbatch, op.chunk};
  const bool first = is_first_stage(rank_, op.chunk);
  const bool last = is_last_stage(stages_, rank_, op.chunk, virtual_stages_);
  const auto g = last ? grads_in_.end() : received(grads_in_, key, op, "recv_backward");
  const float* dout = last ? nullptr : g->second.buf.data();
  std::vector<float> din = handed_on(op, compute, !first);
  timed(t.compute_s, [&] { compute.backward(op.chunk, op.microbatch, dout, first ? nullptr : din.data()); });
  ++t.backwards;
  if (!last) {
    give_back(std::move(g->second.buf));
    grads_in_.erase(g);
  }
  if (auto in = inputs_.find(key); in != inputs_.end()) { // the input is no longer needed
    give_back(std::move(in->second.buf));
    inputs_.erase(in);
  }
  if (!first)
    produced_[{op.microbatch, op.chunk, 1}] = std::move(din); // for send_backward
}

void PipelineExecutor::run_send(const PipeOp& op) {
  const bool fwd = op.kind == OpKind::send_forward;
  auto it = produced_.find({op.microbatch, op.chunk, fwd ? 0 : 1});
  GLM3D_CHECK(it != produced_.end()) << to_string(op) << " before its compute op";
  const int peer = fwd ? (rank_ + 1) % stages_ : (rank_ + stages_ - 1) % stages_;
  Slot sent{std::move(it->second), nullptr};
  produced_.erase(it);
  sent.req = pp_.isend(sent.buf.data(), sent.buf.size(), DType::f32, peer,
                       tag(op.microbatch, op.chunk, fwd ? 0 : 1));
  sends_.push_back(std::move(sent));
}

PipelineTimes PipelineExecutor::run(const std::vector<PipeOp>& ops, StageCompute& compute) {
  PipelineTimes t;
  const auto t_start = Clock::now();
  try {
    for (size_t i = 0; i < ops.size(); ++i) {
      const PipeOp& op = ops[i];
      const Key key{op.microbatch, op.chunk};
      if (is_compute(op.kind)) {
        // Post the receives up to the next compute op, so they arrive while this one runs.
        for (size_t j = i + 1; j < ops.size() && !is_compute(ops[j].kind); ++j)
          if (is_recv(ops[j].kind))
            post_recv(ops[j], compute);
      }
      switch (op.kind) {
      case OpKind::recv_forward:
        post_recv(op, compute);
        wait_recv(inputs_, key, t);
        break;
      case OpKind::recv_backward:
        post_recv(op, compute);
        wait_recv(grads_in_, key, t);
        break;
      case OpKind::forward:
        run_forward(op, compute, t);
        break;
      case OpKind::backward:
        run_backward(op, compute, t);
        break;
      case OpKind::send_forward:
      case OpKind::send_backward:
        run_send(op);
        break;
      }
      reap_sends(false, t);
    }
    reap_sends(true, t);
    GLM3D_CHECK(produced_.empty() && grads_in_.empty())
        << "schedule left " << produced_.size() << " outputs unsent and " << grads_in_.size()
        << " received gradients unused";
    // A forward-only list keeps its inputs (no backward releases them) until here.
    for (auto& [key, s] : inputs_)
      give_back(std::move(s.buf));
    inputs_.clear();
  } catch (...) {
    abandon();
    throw;
  }
  t.total_s = seconds_since(t_start);
  return t;
}

} // namespace glm3d
