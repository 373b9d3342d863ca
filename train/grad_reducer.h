#pragma once
// Data-parallel gradient all-reduce in buckets, overlapped with backward: layers
// are grouped (in backward order) into buckets of about `bucket_elems` elements;
// a bucket's non-blocking all-reduce starts as soon as the last micro-batch's
// backward has passed all of its layers. Parameters outside the layers (word
// embeddings, final LayerNorm) form the last buckets, started by finish() after
// the tied-embedding all-reduce.
#include "model/param_table.h"
#include "parallel/communicator.h"

#include <map>
#include <vector>

namespace glm3d {

class GradReducer {
public:
  GradReducer(const ParamTable& table, Communicator& dp, float* grads, int64_t bucket_elems);
  void begin_step(int num_microbatches); // resets readiness
  void on_layer_backward_done(int layer, int microbatch);
  void finish(); // starts what is left, waits for every bucket
  int num_buckets() const { return int(buckets_.size()); }
  std::vector<std::pair<int64_t, int64_t>> bucket_ranges() const; // [begin, end) of each bucket

private:
  struct Bucket {
    int64_t begin, end;
    int layers_total = 0, layers_done = 0;
    RequestPtr req;
  };
  void start(Bucket& b);
  Communicator& dp_;
  float* grads_;
  int last_mb_ = 0;
  std::vector<Bucket> buckets_;
  std::map<int, int> bucket_of_layer_;
};

} // namespace glm3d
