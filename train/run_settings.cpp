#include "train/run_settings.h"

#include "core/check.h"
#include "core/format.h"

#include <sstream>

namespace glm3d {

namespace {

std::string text(double v) {
  return shortest_repr(v);
}
std::string text(int64_t v) {
  return std::to_string(v);
}
std::string text(uint64_t v) {
  return std::to_string(v);
}

// One setting: the checkpoint's value is the default; an explicit option that differs wins.
class Merge {
public:
  Merge(const TrainOptions& opt, const CheckpointMeta* ck, ResolvedSettings& out)
      : opt_(opt), ck_(ck), out_(out) {}
  // `known`: the checkpoint records this field (old checkpoints lack some).
  template <class V>
  void field(const char* option, V& value, V from_options, V from_ckpt, bool known = true) {
    value = from_options;
    if (!ck_ || !known)
      return;
    if (!opt_.given.count(option)) {
      value = from_ckpt;
      return;
    }
    if (from_options != from_ckpt)
      out_.overrides.push_back("override: --" + std::string(option) + " " + text(from_options) +
                               " (checkpoint: " + text(from_ckpt) + ")");
  }

private:
  const TrainOptions& opt_;
  const CheckpointMeta* ck_;
  ResolvedSettings& out_;
};

} // namespace

ResolvedSettings resolve_settings(const TrainOptions& opt, const CheckpointMeta* ck, double preset_lr) {
  ResolvedSettings r;
  RunSettings& s = r.s;
  Merge m(opt, ck, r);
  const double lr = opt.lr > 0 ? opt.lr : preset_lr;
  m.field("lr", s.lr, lr, ck ? ck->lr_max : 0.0);
  // min lr follows the lr actually used unless given or recorded.
  m.field("min-lr", s.min_lr, opt.min_lr >= 0 ? opt.min_lr : s.lr / 10, ck ? ck->lr_min : 0.0);
  m.field("warmup-steps", s.warmup_steps, opt.warmup_steps, ck ? ck->warmup_steps : int64_t(0));
  m.field("decay-steps", s.decay_steps, opt.decay_steps > 0 ? opt.decay_steps : opt.steps,
          ck ? ck->decay_steps : int64_t(0));
  m.field("global-batch", s.global_batch, opt.global_batch, ck ? ck->global_batch : int64_t(0));
  m.field("micro-batch", s.micro_batch, opt.micro_batch, ck ? ck->micro_batch : int64_t(0),
          ck && ck->micro_batch > 0);
  m.field("weight-decay", s.weight_decay, opt.weight_decay, ck ? ck->weight_decay : 0.0);
  m.field("beta1", s.beta1, opt.beta1, ck ? ck->beta1 : 0.0);
  m.field("beta2", s.beta2, opt.beta2, ck ? ck->beta2 : 0.0);
  m.field("eps", s.eps, opt.eps, ck ? ck->eps : 0.0);
  m.field("clip-grad", s.clip_grad, opt.clip_grad, ck ? ck->clip_grad : 0.0, ck && ck->clip_grad >= 0);
  m.field("seed", s.seed, opt.seed, ck ? ck->seed : uint64_t(0));
  GLM3D_USAGE_CHECK(s.min_lr <= s.lr)
      << "the minimum lr " << shortest_repr(s.min_lr) << " exceeds the peak lr " << shortest_repr(s.lr)
      << " (--min-lr, --lr)";
  if (ck && opt.steps > s.decay_steps && !opt.given.count("decay-steps"))
    r.notes.push_back("note: --steps " + std::to_string(opt.steps) +
                      " runs past the checkpoint's decay length " + std::to_string(s.decay_steps) +
                      ": later steps use the minimum lr " + shortest_repr(s.min_lr) +
                      " (give --decay-steps to change it)");
  if (ck && opt.given.count("seed") && s.seed != ck->seed)
    r.notes.push_back("note: a new seed changes the data order from here on (samples are keyed by seed)");
  return r;
}

} // namespace glm3d
