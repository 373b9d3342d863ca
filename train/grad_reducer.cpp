#include "train/grad_reducer.h"

#include <algorithm>
#include <set>

namespace glm3d {

GradReducer::GradReducer(const ParamTable& table, Communicator& dp, float* grads, int64_t bucket_elems)
    : dp_(dp), grads_(grads) {
  std::set<int> layers;
  for (const auto& p : table.params())
    if (p.layer >= 0)
      layers.insert(p.layer);
  // Backward visits layers from the last to the first.
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    const auto [b, e] = table.layer_range(*it);
    if (!buckets_.empty() && buckets_.back().begin == e &&
        buckets_.back().end - buckets_.back().begin < bucket_elems) {
      buckets_.back().begin = b;
      buckets_.back().layers_total++;
    } else {
      buckets_.push_back({b, e, 1, 0, nullptr});
    }
    bucket_of_layer_[*it] = int(buckets_.size()) - 1;
  }
  // Everything else (embedding, final LayerNorm, padding) in runs outside the layer ranges.
  std::vector<std::pair<int64_t, int64_t>> covered;
  for (const auto& b : buckets_)
    covered.emplace_back(b.begin, b.end);
  std::sort(covered.begin(), covered.end());
  int64_t pos = 0;
  for (const auto& [b, e] : covered) {
    if (b > pos)
      buckets_.push_back({pos, b, 0, 0, nullptr});
    pos = e;
  }
  if (pos < table.total())
    buckets_.push_back({pos, table.total(), 0, 0, nullptr});
}

std::vector<std::pair<int64_t, int64_t>> GradReducer::bucket_ranges() const {
  std::vector<std::pair<int64_t, int64_t>> r;
  for (const auto& b : buckets_)
    r.emplace_back(b.begin, b.end);
  return r;
}

void GradReducer::begin_step(int num_microbatches) {
  last_mb_ = num_microbatches - 1;
  for (auto& b : buckets_) {
    b.layers_done = 0;
    b.req.reset();
  }
}

void GradReducer::start(Bucket& b) {
  if (dp_.size() > 1 && !b.req)
    b.req = dp_.iall_reduce(grads_ + b.begin, size_t(b.end - b.begin), DType::f32, ReduceOp::sum);
}

void GradReducer::on_layer_backward_done(int layer, int microbatch) {
  if (microbatch != last_mb_)
    return;
  auto it = bucket_of_layer_.find(layer);
  if (it == bucket_of_layer_.end())
    return;
  Bucket& b = buckets_[size_t(it->second)];
  if (++b.layers_done == b.layers_total)
    start(b);
}

void GradReducer::finish() {
  for (auto& b : buckets_)
    start(b);
  for (auto& b : buckets_)
    if (b.req) {
      b.req->wait();
      b.req.reset();
    }
}

} // namespace glm3d
