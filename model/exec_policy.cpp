#include "model/exec_policy.h"

#include "core/check.h"

namespace glm3d {

cpu::Precision parse_precision(const std::string& s) {
  if (s == "f32")
    return cpu::Precision::f32;
  if (s == "bf16")
    return cpu::Precision::bf16;
  GLM3D_USAGE_FAIL() << "--precision must be f32 or bf16, got '" << s << "'";
}

Recompute parse_recompute(const std::string& s) {
  if (s == "none")
    return Recompute::none;
  if (s == "selective")
    return Recompute::selective;
  if (s == "full")
    return Recompute::full;
  GLM3D_USAGE_FAIL() << "--recompute must be none, selective or full, got '" << s << "'";
}

AttentionImpl parse_attention(const std::string& s, cpu::Precision p, bool dense_ok) {
  if (s == "auto")
    return p == cpu::Precision::bf16 || !dense_ok ? AttentionImpl::flash : AttentionImpl::dense;
  if (s == "dense") {
    GLM3D_USAGE_CHECK(p == cpu::Precision::f32)
        << "--attention dense needs --precision f32 (bf16 uses flash)";
    GLM3D_USAGE_CHECK(dense_ok)
        << "--attention dense: the dense kernel takes multi-head attention only; this "
           "model has key/value groups (use flash)";
    return AttentionImpl::dense;
  }
  if (s == "flash")
    return AttentionImpl::flash;
  GLM3D_USAGE_FAIL() << "--attention must be auto, dense or flash, got '" << s << "'";
}

std::string to_string(cpu::Precision p) {
  return p == cpu::Precision::bf16 ? "bf16" : "f32";
}
std::string to_string(Recompute r) {
  return r == Recompute::full ? "full" : r == Recompute::selective ? "selective" : "none";
}
std::string to_string(AttentionImpl a) {
  return a == AttentionImpl::flash ? "flash" : "dense";
}

} // namespace glm3d
