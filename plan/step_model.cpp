#include "plan/step_model.h"

#include "core/check.h"
#include "model/flops.h"
#include "model/param_table.h"
#include "pipeline/partition.h"

#include <algorithm>
#include <map>

namespace glm3d {

namespace {

constexpr double kF32 = 4;

double act_bytes(const ExecPolicy& e) {
  return e.bf16() ? 2 : 4; // tensors between kernels, ranks and stages (bf16 activations on a GPU)
}

double seconds(const PlanInput& in, const std::vector<Gemm>& gemms, cpu::Precision p) {
  double s = 0;
  for (const Gemm& g : gemms)
    s += in.dev.gemm_seconds(g, p);
  return s;
}

// One micro-batch through one layer / the model's ends on a tensor-parallel rank.
struct Piece {
  double fwd = 0, bwd = 0, fwd_tp = 0, bwd_tp = 0, flops = 0; // seconds; hardware FLOPs fwd + bwd
};

struct PricedModel {
  Piece layer, embedding, head;
};

PricedModel price(const PlanInput& in, const Layout& l) {
  const ModelConfig& c = in.cfg;
  const int64_t B = l.micro_batch, S = c.seq_len;
  const cpu::Precision p = l.exec.precision;
  const int tp_per_node = std::min(l.tp, in.gpus_per_node);
  const double ar = in.dev.allreduce_seconds(double(B * S * c.hidden) * act_bytes(l.exec), l.tp, tp_per_node);
  PricedModel pm;
  const auto fwd = layer_forward_gemms(c, l.tp, B, S);
  const auto bwd = layer_backward_gemms(c, l.tp, B, S, l.exec);
  const int reruns = l.exec.recompute == Recompute::full ? 1 : 0;
  pm.layer.fwd_tp = k_tp_allreduces_per_layer_forward * ar;
  pm.layer.bwd_tp = (k_tp_allreduces_per_layer_backward + reruns * k_tp_allreduces_per_layer_forward) * ar;
  pm.layer.fwd = seconds(in, fwd, p) + pm.layer.fwd_tp;
  pm.layer.bwd = seconds(in, bwd, p) + pm.layer.bwd_tp;
  pm.layer.flops = total_flops(fwd) + total_flops(bwd);
  const int64_t vpad = padded_vocab(c.vocab, l.tp);
  const auto head = head_forward_gemms(c, l.tp, vpad, B, S);
  pm.head.fwd = seconds(in, head, p);
  pm.head.bwd_tp = ar; // the gradient of the final LayerNorm output sums over the vocabulary slices
  pm.head.bwd = 2 * seconds(in, head, p) + pm.head.bwd_tp;
  pm.head.flops = 3 * total_flops(head);
  pm.embedding.fwd_tp = ar; // vocab-parallel lookup summed over tp
  pm.embedding.fwd = ar;
  if (in.dev.price_elementwise) {
    // Element-wise kernels stream what the layer stores, once forward and twice backward.
    ExecPolicy stored = l.exec;
    stored.recompute = Recompute::none;
    const double e = double(layer_activation_bytes(c, l.tp, B, S, stored)) / in.dev.hbm_bw;
    pm.layer.fwd += 2 * e;
    pm.layer.bwd += 4 * e + 2 * e * reruns;
    const double logits = kF32 * double(B * S * (vpad / l.tp)) / in.dev.hbm_bw;
    pm.head.fwd += 3 * logits;
    pm.head.bwd += 2 * logits;
  }
  return pm;
}

struct Costs {
  StageCosts st;
  std::vector<double> tp_per_mb; // per rank: tensor-parallel seconds of all its chunks, one micro-batch
  std::vector<double> flops_per_mb;
};

Costs stage_costs(const PlanInput& in, const Layout& l, const PricedModel& pm) {
  const int pp = l.pp, v = l.virtual_stages;
  const ParallelDims dims = l.dims();
  const Placement place{in.gpus_per_node};
  Costs c;
  c.st.fwd.assign(size_t(pp), std::vector<double>(size_t(v), 0));
  c.st.bwd = c.st.fwd;
  c.tp_per_mb.assign(size_t(pp), 0);
  c.flops_per_mb.assign(size_t(pp), 0);
  for (int r = 0; r < pp; ++r) {
    const auto chunks = chunks_of_rank(int(in.cfg.num_layers), pp, r, v, l.pp_layers);
    for (int ch = 0; ch < v; ++ch) {
      const double n = chunks[size_t(ch)].num_layers;
      double f = n * pm.layer.fwd, b = n * pm.layer.bwd, tp = n * (pm.layer.fwd_tp + pm.layer.bwd_tp);
      double flops = n * pm.layer.flops;
      for (const auto& [on, piece] : {std::pair{is_first_stage(r, ch), &pm.embedding},
                                      std::pair{is_last_stage(pp, r, ch, v), &pm.head}})
        if (on) {
          f += piece->fwd, b += piece->bwd, tp += piece->fwd_tp + piece->bwd_tp;
          flops += piece->flops;
        }
      c.st.fwd[size_t(r)][size_t(ch)] = f;
      c.st.bwd[size_t(r)][size_t(ch)] = b;
      c.tp_per_mb[size_t(r)] += tp;
      c.flops_per_mb[size_t(r)] += flops;
    }
  }
  const double bytes = double(l.micro_batch * in.cfg.seq_len * in.cfg.hidden) * act_bytes(l.exec);
  for (int s = 0; s + 1 < pp * v; ++s) {
    const int a = dims.rank_of(0, 0, s % pp), b = dims.rank_of(0, 0, (s + 1) % pp);
    c.st.hop.push_back(in.dev.p2p_seconds(bytes, place.same_node(a, b)));
  }
  return c;
}

struct AfterPipeline {
  double dp = 0, optimizer = 0;
};

// What a pipeline rank does after its last backward, as train/train_step.cpp does it: the tied
// embedding's all-reduce between first and last stage, then either the buckets still in flight
// (started as each layer's last micro-batch finished, train/grad_reducer.cpp) and the rest of
// the parameters, or ZeRO-1's reduce-scatter; AdamW on the owned range; ZeRO-1's all-gather.
AfterPipeline after_pipeline(const PlanInput& in, const Layout& l, int r, const PipelineTrace& t, int m) {
  const ParallelDims dims = l.dims();
  const Placement place{in.gpus_per_node};
  const int rank = dims.rank_of(0, 0, r);
  const int dp_per_node = place.members_per_node(dims.dp_group(rank));
  const StagePlan plan = stage_plan_of(in.cfg, dims, r, 0, l.pp_layers);
  const ParamTable table(in.cfg, plan);
  const double total = double(table.total());
  AfterPipeline a;
  if (l.pp > 1 && (r == 0 || r == l.pp - 1)) {
    const ParamInfo& e = table.get("word_embeddings.weight");
    const auto emb = dims.embedding_group(rank);
    a.dp += in.dev.allreduce_seconds(kF32 * double(e.numel()), 2, place.members_per_node(emb));
  }
  const double weight_bytes = l.exec.bf16() ? 2 : 4;
  if (l.zero) {
    a.dp += in.dev.gather_seconds(kF32 * total, l.dp, dp_per_node);         // reduce-scatter of gradients
    a.dp += in.dev.gather_seconds(weight_bytes * total, l.dp, dp_per_node); // all-gather of weights
  } else if (l.dp > 1) {
    // Layer buckets in backward order, each ready when its last layer's last micro-batch is done.
    std::map<int, std::pair<double, double>> span_of_chunk; // chunk -> last micro-batch's backward
    for (const OpSpan& s : t.spans[size_t(r)])
      if (s.op.kind == OpKind::backward && s.op.microbatch == m - 1)
        span_of_chunk[s.op.chunk] = {s.start, s.end};
    std::vector<std::pair<double, double>> layers; // (ready time, bytes), backward order
    double layer_elems = 0;
    for (int ch = int(plan.chunks.size()) - 1; ch >= 0; --ch) {
      const auto [first, count] = plan.chunks[size_t(ch)];
      const auto [b, e] = span_of_chunk.at(ch);
      for (int layer = first + count - 1; layer >= first; --layer) {
        const auto [lo, hi] = table.layer_range(layer);
        layers.emplace_back(b + (e - b) * double(first + count - layer) / count, kF32 * double(hi - lo));
        layer_elems += double(hi - lo);
      }
    }
    double comm_end = 0, bucket = 0, ready = 0;
    const auto flush = [&] {
      if (bucket > 0)
        comm_end = std::max(comm_end, ready) + in.dev.allreduce_seconds(bucket, l.dp, dp_per_node);
      bucket = 0;
    };
    for (const auto& [when, bytes] : layers) {
      bucket += bytes, ready = when;
      if (bucket >= double(in.bucket_bytes))
        flush();
    }
    flush();
    const double end = t.end[size_t(r)];
    const double rest = in.dev.allreduce_seconds(kF32 * (total - layer_elems), l.dp, dp_per_node);
    a.dp = std::max(end + a.dp, comm_end) + rest - end;
  }
  // AdamW streams weights, gradients, master and moments of its range once (about 32 bytes each).
  a.optimizer = 32.0 * (l.zero ? total / l.dp : total) / in.dev.hbm_bw;
  return a;
}

} // namespace

std::vector<StageMemory> plan_memory(const PlanInput& in, const Layout& l, InFlightCache* cache) {
  const ParallelDims dims = l.dims();
  const int m = l.num_microbatches(in.global_batch);
  std::vector<StageMemory> out;
  for (int r = 0; r < l.pp; ++r) {
    StageMemory s;
    s.pp_rank = r;
    const StagePlan plan = stage_plan_of(in.cfg, dims, r, 0, l.pp_layers);
    for (const auto& [first, count] : plan.chunks) {
      s.layers += count;
      s.embedding = s.embedding || first == 0;
      s.head = s.head || first + count == in.cfg.num_layers;
    }
    const InFlight f = cache ? cache->get(l.schedule, dims, m, r) : in_flight_of(l.schedule, dims, m, r);
    const MemoryPolicy pol = memory_policy_of(l.exec, dims, l.zero == 1, l.micro_batch, in.cfg.seq_len, f);
    s.mem = estimate_rank_memory(in.cfg, plan, pol);
    s.total = double(s.mem.total()) + in.dev.reserve_bytes;
    out.push_back(s);
  }
  return out;
}

double step_lower_bound(const PlanInput& in, const Layout& l) {
  const Costs c = stage_costs(in, l, price(in, l));
  const int m = l.num_microbatches(in.global_batch);
  double worst = 0;
  for (int r = 0; r < l.pp; ++r) {
    double per_mb = 0;
    for (int ch = 0; ch < l.virtual_stages; ++ch)
      per_mb += c.st.fwd[size_t(r)][size_t(ch)] + c.st.bwd[size_t(r)][size_t(ch)];
    worst = std::max(worst, m * per_mb);
  }
  return worst;
}

Prediction predict(const PlanInput& in, const Layout& l, bool with_time, InFlightCache* cache) {
  Prediction p;
  p.layout = l;
  p.num_microbatches = l.num_microbatches(in.global_batch);
  p.stages = plan_memory(in, l, cache);
  for (const StageMemory& s : p.stages)
    if (s.total > p.peak_bytes)
      p.peak_bytes = s.total, p.peak_stage = s.pp_rank;
  p.fits = p.peak_bytes <= in.dev.memory_bytes;
  if (!with_time)
    return p;
  const int m = p.num_microbatches;
  const Costs c = stage_costs(in, l, price(in, l));
  p.trace = simulate_pipeline(l.schedule, l.pp, m, l.virtual_stages, c.st);
  // The same schedule with free transfers: what the schedule itself leaves idle.
  StageCosts free_hops = c.st;
  std::fill(free_hops.hop.begin(), free_hops.hop.end(), 0.0);
  const PipelineTrace ideal = simulate_pipeline(l.schedule, l.pp, m, l.virtual_stages, free_hops);
  for (int r = 0; r < l.pp; ++r) {
    const AfterPipeline a = after_pipeline(in, l, r, p.trace, m);
    const double end = p.trace.end[size_t(r)] + a.dp + a.optimizer;
    if (end > p.step_s)
      p.step_s = end, p.optimizer_s = a.optimizer;
  }
  // Split on the busiest rank: its compute and tp time, the schedule's idle, the transfers' share,
  // then what the rank finishing last adds after the pipeline.
  const int b = p.trace.busiest_rank();
  const double busy = p.trace.busy[size_t(b)];
  p.tp_comm_s = m * c.tp_per_mb[size_t(b)];
  p.compute_s = busy - p.tp_comm_s;
  p.bubble_s = ideal.makespan - busy;
  p.p2p_s = p.trace.makespan - ideal.makespan;
  p.dp_exposed_s = p.step_s - p.trace.makespan - p.optimizer_s;
  p.bubble_fraction = ideal.bubble_fraction();
  double hw = 0;
  for (int r = 0; r < l.pp; ++r)
    hw += m * c.flops_per_mb[size_t(r)] * l.tp * l.dp;
  const double tokens = double(in.global_batch * in.cfg.seq_len);
  const double model = training_flops_per_token(in.cfg) * tokens;
  const double peak = in.dev.peak(l.exec.precision) * l.world();
  p.tokens_per_s = tokens / p.step_s;
  p.model_tflops_per_gpu = model / p.step_s / l.world() / 1e12;
  p.hw_tflops_per_gpu = hw / p.step_s / l.world() / 1e12;
  p.mfu = model / p.step_s / peak;
  p.hfu = hw / p.step_s / peak;
  return p;
}

} // namespace glm3d
