#pragma once
// PipelineExecutor: runs one rank's schedule (pipeline/schedule.h) against a StageCompute,
// moving activations and their gradients over the pp communicator with isend/irecv.
//
// Transfers: the next virtual stage of (rank r, chunk c) is (r + 1, c), and after the last
// rank (0, c + 1). Every message has a tag that encodes (microbatch, sender chunk,
// direction), unique within a step, so no message can be matched to the wrong receive.
// Each receive is posted one compute op ahead (while the current op computes); sends are
// never waited on until their buffer is reused or the step ends.
//
// Timing: compute_s is time inside StageCompute, wait_s time blocked on receives and on
// the final send completions (communication and pipeline bubble together: on a balanced
// pipeline the bubble shows up as waiting for the neighbour).
#include "parallel/communicator.h"
#include "pipeline/schedule.h"
#include "pipeline/stage_compute.h"

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

namespace glm3d {

struct PipelineTimes {
  double compute_s = 0; // inside StageCompute::forward / backward
  double wait_s = 0;    // blocked on receives and send completion
  double total_s = 0;   // the whole run()
  int64_t forwards = 0, backwards = 0;
  PipelineTimes& operator+=(const PipelineTimes& o);
};

class PipelineExecutor {
public:
  // `pp` is this rank's pipeline group (group rank = pipeline stage); it must outlive the executor.
  PipelineExecutor(Communicator& pp, int virtual_stages);

  // Runs `ops` (this rank's list from build_schedule) to the end, all sends completed.
  PipelineTimes run(const std::vector<PipeOp>& ops, StageCompute& compute);

  // Tag of the message sent by `sender_chunk` for `microbatch` (direction 0 forward, 1 backward).
  int tag(int microbatch, int sender_chunk, int direction) const {
    return (microbatch * virtual_stages_ + sender_chunk) * 2 + direction;
  }

private:
  struct Slot {
    std::vector<float> buf;
    RequestPtr req; // the pending receive into buf, or send from it
  };
  using Key = std::pair<int, int>; // (microbatch, chunk)

  std::vector<float> take_buffer(int64_t n);
  void give_back(std::vector<float>&& b) { pool_.push_back(std::move(b)); }
  void post_recv(const PipeOp& op, StageCompute& compute);
  void wait_recv(std::map<Key, Slot>& slots, const Key& key, PipelineTimes& t);
  void reap_sends(bool wait_all, PipelineTimes& t);
  // The slot a compute op reads (its recv's), which must have been received.
  std::map<Key, Slot>::iterator received(std::map<Key, Slot>& slots, const Key& key, const PipeOp& op,
                                         const char* recv);
  // The buffer for what a compute op hands to the next or previous stage (empty if not needed).
  std::vector<float> handed_on(const PipeOp& op, StageCompute& compute, bool needed);
  // One op of run(): compute ops time themselves into t; sends post their output.
  void run_forward(const PipeOp& op, StageCompute& compute, PipelineTimes& t);
  void run_backward(const PipeOp& op, StageCompute& compute, PipelineTimes& t);
  void run_send(const PipeOp& op);
  void abandon() noexcept;

  Communicator& pp_;
  int virtual_stages_;
  int rank_, stages_;
  std::map<Key, Slot> inputs_;   // activations received (or first stage: none), kept until backward
  std::map<Key, Slot> grads_in_; // gradients received from the next stage, until backward
  std::map<std::tuple<int, int, int>, std::vector<float>>
      produced_;            // (mb, chunk, dir): computed, not yet sent
  std::vector<Slot> sends_; // outputs and input-gradients in flight
  std::vector<std::vector<float>> pool_;
};

} // namespace glm3d
