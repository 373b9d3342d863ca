#include "train/distributed_optimizer.h"

#include "core/check.h"
#include "core/cpu/convert.h"
#include "core/cpu/elementwise.h"
#include "model/init.h"

#include <algorithm>
#include <cstring>

namespace glm3d {

DistributedOptimizer::DistributedOptimizer(const ParamStore& store, Communicator& dp, bool zero,
                                           const cpu::AdamWHyper& hyper)
    : store_(store), dp_(dp), zero_(zero) {
  const ParamStore& model = store;
  const int64_t total = model.num_params();
  shard_ = (total + dp.size() - 1) / dp.size();
  GLM3D_CHECK(model.buffer_elems >= shard_ * dp.size())
      << "model buffers of " << model.buffer_elems << " elements, ZeRO-1 needs " << shard_ * dp.size();
  begin_ = zero ? std::min(total, shard_ * dp.rank()) : 0;
  end_ = zero ? std::min(total, begin_ + shard_) : total;
  if (!model.params) { // bf16 compute weights: the f32 master is ours
    own_master_.assign(size_t(end_ - begin_), 0.f);
    master_ = own_master_.data();
  } else {
    master_ = model.params + begin_;
  }
  adam_ = std::make_unique<AdamW>(*model.table, hyper, begin_, end_);
}

void DistributedOptimizer::init_master(uint64_t seed) {
  if (store_.params)
    return; // f32: the store's own weights are the master, initialised by their owner
  for (const ParamInfo& p : store_.table->params()) {
    const int64_t b = std::max(begin_, p.offset), e = std::min(end_, p.offset + p.numel());
    for (int64_t i = b; i < e; ++i)
      master_[i - begin_] =
          float(init_value(*store_.cfg, p, seed, p.global_index(i - p.offset, store_.tp_rank)));
  }
  publish();
}

void DistributedOptimizer::reduce_scatter_grads() {
  if (!zero_ || dp_.size() == 1)
    return;
  float* g = store_.grads;
  dp_.reduce_scatter(g, g, size_t(shard_), DType::f32, ReduceOp::sum); // this rank's sum lands at g[0, shard)
  if (begin_ > 0)
    std::memmove(g + begin_, g, size_t(end_ - begin_) * sizeof(float));
}

void DistributedOptimizer::step(double clip, double lr, int64_t adam_step) {
  // Clipping is fused into the update: the same f32 product grad * float(clip) a separate
  // scaling pass would have stored, one pass over the gradients fewer.
  adam_->step(master_, store_.grads, lr, adam_step, clip < 1.0 ? clip : 1.0);
}

void DistributedOptimizer::publish() {
  const bool gather = zero_ && dp_.size() > 1;
  if (!store_.params) {
    bf16* w = store_.weights_bf16;
    cpu::to_bf16(master_, w + begin_, end_ - begin_);
    if (gather)
      dp_.all_gather(w + shard_ * dp_.rank(), w, size_t(shard_), DType::bf16);
  } else if (gather) {
    float* w = store_.params;
    dp_.all_gather(w + shard_ * dp_.rank(), w, size_t(shard_), DType::f32);
  }
  if (store_.weights_changed)
    store_.weights_changed();
}

} // namespace glm3d
