#include "model/microbatch.h"

#include "core/check.h"

namespace glm3d {

int64_t MicroBatch::target_count() const {
  int64_t n = 0;
  for (uint8_t m : loss_mask)
    n += m != 0;
  return n;
}

MicroBatch stack_samples(const std::vector<Sample>& samples) {
  GLM3D_CHECK(!samples.empty()) << "empty micro-batch";
  MicroBatch mb;
  mb.B = int64_t(samples.size());
  mb.S = int64_t(samples[0].tokens.size());
  for (const Sample& s : samples) {
    GLM3D_CHECK(int64_t(s.tokens.size()) == mb.S && int64_t(s.position_ids.size()) == mb.S &&
                int64_t(s.block_position_ids.size()) == mb.S && int64_t(s.targets.size()) == mb.S &&
                int64_t(s.loss_mask.size()) == mb.S)
        << "sample fields must all have length " << mb.S;
    GLM3D_CHECK(s.sep >= 0 && s.sep <= mb.S) << "sep " << s.sep << " outside [0, " << mb.S << "]";
    mb.tokens.insert(mb.tokens.end(), s.tokens.begin(), s.tokens.end());
    mb.position_ids.insert(mb.position_ids.end(), s.position_ids.begin(), s.position_ids.end());
    mb.block_position_ids.insert(mb.block_position_ids.end(), s.block_position_ids.begin(),
                                 s.block_position_ids.end());
    mb.targets.insert(mb.targets.end(), s.targets.begin(), s.targets.end());
    mb.loss_mask.insert(mb.loss_mask.end(), s.loss_mask.begin(), s.loss_mask.end());
    mb.sep.push_back(s.sep);
  }
  return mb;
}

} // namespace glm3d
