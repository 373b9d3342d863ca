#include "train/slice_bench.h"

#include "core/check.h"
#include "core/clock.h"
#include "core/process_memory.h"
#include "data/synthetic_task.h"
#include "model/config.h"
#include "model/glm_model.h"
#include "model/memory_model.h"
#include "parallel/loopback_communicator.h"
#include "train/distributed_optimizer.h"

#include <random>

namespace glm3d {

namespace {

ExecPolicy exec_of(const SliceOptions& o, const ModelConfig& cfg) {
  ExecPolicy e;
  e.precision = parse_precision(o.precision);
  e.recompute = parse_recompute(o.recompute);
  e.attention = parse_attention(o.attention, e.precision, !cfg.packed_qkv());
  return e;
}

// Forward FLOPs the recomputation adds per layer per token: the whole layer (full) or the
// attention core, 4 S H (selective with the dense kernel; nothing with flash).
double recompute_flops_per_token(const ModelConfig& c, const ExecPolicy& e) {
  if (e.recompute == Recompute::full)
    return layer_forward_flops_per_token(c);
  if (e.recompute == Recompute::selective && e.attention == AttentionImpl::dense)
    return 4.0 * double(c.seq_len * c.hidden);
  return 0;
}

std::vector<float> random_values(int64_t n, uint64_t seed, float scale) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v)
    x = d(gen);
  return v;
}

} // namespace

SliceReport run_slice(const SliceOptions& o) {
  ModelConfig cfg = load_model_config(o.model);
  if (o.seq_len > 0)
    cfg.seq_len = o.seq_len;
  validate(cfg);
  GLM3D_USAGE_CHECK(o.tp >= 1 && cfg.num_heads % o.tp == 0 && cfg.ffn_hidden % o.tp == 0)
      << "--tp " << o.tp << " must divide the heads (" << cfg.num_heads << ") and the FFN (" << cfg.ffn_hidden
      << ")";
  GLM3D_USAGE_CHECK(o.layers >= 1 && o.layers + 2 <= cfg.num_layers)
      << "--layers " << o.layers << ": a middle slice of " << cfg.name << " holds 1.." << cfg.num_layers - 2
      << " layers";
  GLM3D_USAGE_CHECK(o.dp >= 1 && o.steps >= 1 && o.micro_batch >= 1)
      << "--dp, --steps and --micro-batch must be positive";
  const ExecPolicy exec = exec_of(o, cfg);
  StagePlan plan; // tp rank 0 of a middle pipeline stage: no embedding, no head
  plan.tp = o.tp;
  plan.tp_rank = 0;
  plan.chunks = {{1, o.layers}};
  LoopbackCommunicator tp("tp", o.tp), dp("dp", o.dp);
  const ParamTable table(cfg, plan);
  GlmModel<float> model(cfg, plan, tp, exec, DistributedOptimizer::padded_elems(table.total(), o.dp));
  DistributedOptimizer optim(model.base_store(), dp, o.zero, cpu::AdamWHyper{});
  if (exec.bf16())
    optim.init_master(o.seed);
  else
    model.init(o.seed);

  SyntheticTask task(cfg.seq_len, cfg.vocab, o.seed);
  std::vector<Sample> samples;
  for (int64_t b = 0; b < o.micro_batch; ++b)
    samples.push_back(task.get(b));
  const std::vector<MicroBatch> mbs{stack_samples(samples)};
  const int64_t N = o.micro_batch * cfg.seq_len, H = cfg.hidden;
  const std::vector<float> x = random_values(N * H, o.seed, 1.0f),
                           dy = random_values(N * H, o.seed + 1, 1e-3f);
  std::vector<float> y(size_t(N * H)), dx(size_t(N * H));

  SliceReport r;
  r.params = model.num_params();
  r.seq_len = cfg.seq_len;
  for (int step = 0; step <= o.steps; ++step) { // step 0 warms up (primitives, first touches)
    model.set_batch(&mbs, 1.0);
    model.zero_grads();
    tp.reset_bytes();
    const auto t0 = Clock::now();
    model.forward(0, 0, x.data(), y.data());
    const double fwd = seconds_since(t0);
    r.activation_bytes = model.activation_bytes_held() / o.layers;
    const auto t1 = Clock::now();
    model.backward(0, 0, dy.data(), dx.data());
    const double bwd = seconds_since(t1);
    r.tp_bytes = int64_t(tp.bytes_moved());
    const auto t2 = Clock::now();
    optim.reduce_scatter_grads();
    optim.step(1.0, 1e-5, step + 1);
    optim.publish();
    if (step > 0) {
      r.forward_s += fwd / o.layers / o.steps;
      r.backward_s += bwd / o.layers / o.steps;
      r.optimizer_s += seconds_since(t2) / o.steps;
    }
  }
  const double tokens = double(N);
  r.model_flops = 3.0 * tokens * layer_forward_flops_per_token(cfg) / o.tp;
  r.hardware_flops = r.model_flops + tokens * recompute_flops_per_token(cfg, exec) / o.tp;
  r.planned_activation_bytes = layer_activation_bytes(cfg, o.tp, o.micro_batch, cfg.seq_len, exec);
  const int64_t buf = model.buffer_elems();
  r.model_state_bytes = model.state_bytes() + optim.state_bytes();
  r.planned_model_state_bytes = model_state_bytes(buf, o.zero ? optim.shard() : buf, exec).model_state();
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

} // namespace glm3d
