#pragma once
// Internal to core/cpu and its benchmarks: the two places where the oneDNN API changed between
// 2.x (Debian 12 ships 2.6) and 3.x. glm3d builds against either.
//   - A matmul primitive descriptor: 2.x from an op descriptor, 3.x from the engine and the
//     memory descriptors directly.
//   - C = alpha A B: 2.x output scales; 3.x has no output scales, so a linear post-op
//     (alpha x + 0) before the sum post-op.
#include <dnnl.hpp>

namespace glm3d::cpu::detail {

inline dnnl::matmul::primitive_desc matmul_pd(const dnnl::engine& engine, const dnnl::memory::desc& a,
                                              const dnnl::memory::desc& b, const dnnl::memory::desc& c,
                                              const dnnl::primitive_attr& attr = dnnl::primitive_attr()) {
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::matmul::primitive_desc(engine, a, b, c, attr);
#else
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), attr, engine);
#endif
}

// Attributes of C = alpha A B (+ C when accumulate), scratchpad owned by the caller.
inline dnnl::primitive_attr scaled_matmul_attr(float alpha, bool accumulate) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops po;
#if DNNL_VERSION_MAJOR >= 3
  if (alpha != 1.0f)
    po.append_eltwise(dnnl::algorithm::eltwise_linear, alpha, 0.0f);
#else
  if (alpha != 1.0f)
    attr.set_output_scales(0, {alpha});
#endif
  if (accumulate)
    po.append_sum(1.0f);
  if (po.len() > 0)
    attr.set_post_ops(po);
  return attr;
}

} // namespace glm3d::cpu::detail
