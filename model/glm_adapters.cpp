// GlmModel's fine-tuning adapters: their buffers and init, the optimizer's views of the base and
// the adapters, and LoRA on a layer's linears (the arithmetic is model/lora.h).
#include "core/check.h"
#include "core/philox.h"
#include "model/glm_model.h"
#include "model/glm_model_impl.h"
#include "model/init.h"
#include "model/lora.h"

namespace glm3d {

template <class T>
void GlmModel<T>::attach_adapters(const AdapterSpec& spec, int64_t buffer_elems, uint64_t seed) {
  validate(spec);
  spec_ = spec;
  spec_.seed = seed;
  if (!spec.adapters())
    return; // full fine-tuning: the base itself trains
  atable_ = std::make_unique<ParamTable>(cfg_, plan_, spec);
  abuffer_elems_ = std::max(buffer_elems, atable_->total());
  aparams_.assign(size_t(abuffer_elems_), T(0));
  agrads_.assign(size_t(abuffer_elems_), T(0));
  for (const ParamInfo& p : atable_->params())
    for (int64_t i = 0; i < p.numel(); ++i)
      aparams_[size_t(p.offset + i)] = T(init_value(cfg_, p, seed, p.global_index(i, plan_.tp_rank)));
  std::vector<T>().swap(grads_); // the base is frozen: no gradients
}

template <class T> ParamStore GlmModel<T>::base_store() {
  ParamStore s;
  if constexpr (std::is_same_v<T, float>) {
    s.cfg = &cfg_;
    s.table = &table_;
    s.tp_rank = plan_.tp_rank;
    s.buffer_elems = buffer_elems_;
    s.params = params();
    s.weights_bf16 = weights_bf16();
    s.grads = grads();
    s.weights_changed = [this] { weights_changed(); };
  }
  return s;
}

template <class T> ParamStore GlmModel<T>::adapter_store() {
  GLM3D_CHECK(atable_) << "the model has no adapters";
  ParamStore s;
  if constexpr (std::is_same_v<T, float>) {
    s.cfg = &cfg_;
    s.table = atable_.get();
    s.tp_rank = plan_.tp_rank;
    s.buffer_elems = abuffer_elems_;
    s.params = aparams_.data(); // adapters are f32 whatever the base's precision
    s.grads = agrads_.data();
  }
  return s;
}

namespace {
// A module's input as T values (widened from bf16 into `scratch`).
template <class T> const T* values_of(MatIn<T> x, int64_t n, std::vector<T>& scratch) {
  if (x.f)
    return x.f;
  if constexpr (std::is_same_v<T, float>) {
    scratch.resize(size_t(n));
    cpu::to_f32(x.b, scratch.data(), n);
    return scratch.data();
  }
  return nullptr;
}
} // namespace

// The dropout of module m's input in layer l at this step: keyed by (seed, step, layer, module).
template <class T>
LoraDropout lora_dropout_of(const GlmModel<T>& g, const AdapterSpec& spec, int64_t step, int l, int m,
                            const MicroBatch& mb, int64_t in, int tp, int tp_rank) {
  LoraDropout d;
  if (!g.training)
    return d;
  d.p = spec.lora_dropout;
  d.key = stream_key(spec.seed, "lora_dropout/" + std::to_string(step) + "/" + std::to_string(l) + "/" +
                                    linear_modules()[m].name);
  d.sample_ids = mb.sample_ids.empty() ? nullptr : mb.sample_ids.data();
  d.S = mb.S;
  const bool column = linear_modules()[m].column;
  d.in_full = column ? in : in * tp;
  d.col0 = column ? 0 : int64_t(tp_rank) * in;
  return d;
}

// What layer l's module m needs in forward and backward alike: its shapes, its dropout (the
// forward's mask, regenerated in backward from its counters) and the dropped input xd [N, in].
template <class T> struct LoraInput {
  LoraShape s;
  LoraDropout d;
  std::vector<T> xd;
};
template <class T>
LoraInput<T> lora_input(const GlmModel<T>& g, const AdapterSpec& spec, int64_t step, int l, int m, MatIn<T> x,
                        int64_t in, int64_t out, const MicroBatch& mb, int tp, int tp_rank) {
  const int64_t N = mb.B * mb.S;
  LoraInput<T> li{{N, in, out, spec.lora_r, spec.lora_scaling()},
                  lora_dropout_of(g, spec, step, l, m, mb, in, tp, tp_rank),
                  std::vector<T>(size_t(N * in))};
  std::vector<T> wide;
  lora_drop(values_of(x, N * in, wide), li.xd.data(), li.s, li.d);
  return li;
}

template <class T>
void GlmModel<T>::lora_forward(int l, int m, MatIn<T> x, T* y, int64_t in, int64_t out, const MicroBatch& mb,
                               LayerActs& a) {
  const LinearModule& mod = linear_modules()[m];
  if (!spec_.lora() || !spec_.lora_targets.count(mod.name))
    return;
  const LoraInput<T> li = lora_input(*this, spec_, step_, l, m, x, in, out, mb, plan_.tp, plan_.tp_rank);
  const LoraShape& s = li.s;
  const T* A = aparams_.data() + atable_->get(lora_param_name(l, mod, 'A')).offset;
  const T* B = aparams_.data() + atable_->get(lora_param_name(l, mod, 'B')).offset;
  std::vector<T>& z = a.lora_z[size_t(m)];
  z.resize(size_t(s.N * s.r));
  lora_down(li.xd.data(), A, z.data(), s);
  if (!mod.column)
    tp_sum(z.data(), s.N * s.r); // the row-parallel input was split: sum the partial products
  lora_up(z.data(), B, y, s);
}

template <class T>
void GlmModel<T>::lora_backward(int l, int m, MatIn<T> x, const T* dy, T* dx, int64_t in, int64_t out,
                                const MicroBatch& mb, LayerActs& a) {
  const LinearModule& mod = linear_modules()[m];
  if (!spec_.lora() || !spec_.lora_targets.count(mod.name))
    return;
  const LoraInput<T> li = lora_input(*this, spec_, step_, l, m, x, in, out, mb, plan_.tp, plan_.tp_rank);
  std::vector<T> dz(size_t(li.s.N * li.s.r));
  const ParamInfo& pa = atable_->get(lora_param_name(l, mod, 'A'));
  const ParamInfo& pb = atable_->get(lora_param_name(l, mod, 'B'));
  glm3d::lora_backward(dy, li.xd.data(), a.lora_z[size_t(m)].data(), aparams_.data() + pb.offset, dz.data(),
                       agrads_.data() + pa.offset, agrads_.data() + pb.offset, li.s);
  lora_input_grad(dz.data(), aparams_.data() + pa.offset, dx, li.s, li.d);
}

#define GLM3D_ADAPTER_MEMBERS(T)                                                                             \
  template void GlmModel<T>::attach_adapters(const AdapterSpec&, int64_t, uint64_t);                         \
  template ParamStore GlmModel<T>::base_store();                                                             \
  template ParamStore GlmModel<T>::adapter_store();                                                          \
  template void GlmModel<T>::lora_forward(int, int, MatIn<T>, T*, int64_t, int64_t, const MicroBatch&,       \
                                          LayerActs&);                                                       \
  template void GlmModel<T>::lora_backward(int, int, MatIn<T>, const T*, T*, int64_t, int64_t,               \
                                           const MicroBatch&, LayerActs&);
GLM3D_ADAPTER_MEMBERS(float)
GLM3D_ADAPTER_MEMBERS(double)

} // namespace glm3d
