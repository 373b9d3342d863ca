#pragma once
// The optimizer side of one rank (Megatron's distributed optimizer when ZeRO-1 is on):
//   range    [begin, end) of the flat parameter buffer this rank updates: all of it, or its
//            data-parallel shard under ZeRO-1 (shard = ceil(total / dp), buffers padded to
//            dp * shard so the collectives run in place);
//   master   the f32 weights of that range: the model's own weights under f32 precision (the
//            pre-0.2 trainer, bit for bit), a separate f32 copy under bf16 (the model then holds
//            bf16 compute weights only);
//   AdamW    moments m, v of the range.
// A step: reduce_scatter_grads() (ZeRO-1), the caller's norm and clip coefficient, step()
// (AdamW on the master), publish() (master -> compute weights, then the ZeRO-1 all-gather in
// bf16 or f32, in place).
#include "model/param_store.h"
#include "parallel/communicator.h"
#include "train/optimizer.h"

#include <memory>
#include <vector>

namespace glm3d {

class DistributedOptimizer {
public:
  DistributedOptimizer(const ParamStore& store, Communicator& dp, bool zero, const cpu::AdamWHyper& hyper);
  // Elements of the padded buffers a model needs for `total` parameters over dp ranks.
  static int64_t padded_elems(int64_t total, int dp) { return (total + dp - 1) / dp * dp; }

  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }
  int64_t shard() const { return shard_; }
  float* master() { return master_; } // [end - begin]
  AdamW& adam() { return *adam_; }
  // Bytes allocated here: the master copy (bf16 precision) and AdamW's moments.
  int64_t state_bytes() const {
    return int64_t((own_master_.capacity() + adam_->m().capacity() + adam_->v().capacity()) * sizeof(float));
  }

  // The counter-based initial weights of the range into the master (bf16; under f32 the
  // model's init already wrote them), then publish().
  void init_master(uint64_t seed);
  // ZeRO-1 over dp > 1: the gradients summed over dp, this rank's shard left at [begin, end)
  // (in place: one reduce-scatter, no copy of the buffer). Otherwise nothing.
  void reduce_scatter_grads();
  // Runs AdamW on the master with this rank's gradients times `clip` (1: none; the gradient
  // buffer is read, not scaled in place).
  void step(double clip, double lr, int64_t adam_step);
  // Master -> the model's compute weights over the range, then (ZeRO-1) the all-gather that
  // gives every rank every weight.
  void publish();

private:
  ParamStore store_;
  Communicator& dp_;
  bool zero_;
  int64_t shard_ = 0, begin_ = 0, end_ = 0;
  std::vector<float> own_master_; // bf16 precision only
  float* master_ = nullptr;
  std::unique_ptr<AdamW> adam_;
};

} // namespace glm3d
