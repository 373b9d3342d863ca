#include "infer/model_loader.h"

#include "core/check.h"
#include "data/h5_attr.h"
#include "data/h5_object_header.h"
#include "infer/quantized_checkpoint.h"
#include "parallel/agreement.h"
#include "parallel/mpi_check.h"
#include "pipeline/partition.h"
#include "train/checkpoint.h"
#include "train/checkpoint_io.h"
#include "train/quantized_shard.h"

#include <array>

namespace glm3d {

StagePlan inference_plan(const ModelConfig& cfg, int tp, int tp_rank, int pp, int pp_rank,
                         const std::vector<int>& pp_layers) {
  StagePlan plan;
  plan.tp = tp;
  plan.tp_rank = tp_rank;
  for (const StageLayers& s : chunks_of_rank(int(cfg.num_layers), pp, pp_rank, 1, pp_layers))
    plan.chunks.emplace_back(s.first_layer, s.num_layers);
  plan.has_embedding = pp_rank == 0 || pp_rank == pp - 1;
  return plan;
}

namespace {

// The table entries of local layer i's four matrices (k_layer_matrices order).
std::array<const ParamInfo*, 4> layer_matrices(const InferenceModel& m, int layer) {
  std::array<const ParamInfo*, 4> out{};
  for (int k = 0; k < 4; ++k)
    out[size_t(k)] = &m.table().get(layer_param_name(layer, k_layer_matrices[k]));
  return out;
}

// Quantized matrices: each rank reads the whole quantized matrices of its layers and keeps its
// shards; no collective, so the errors are agreed on afterwards.
void load_quantized_matrices(InferenceModel& m, const std::string& path, MPI_Comm world) {
  run_agreed(world, [&] {
    auto lock = h5::library_lock();
    h5::Handle f;
    try {
      h5::check_root_before_open(path);
      f = h5::Handle(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
    } catch (const Error& e) {
      GLM3D_USAGE_FAIL() << "checkpoint " << path
                         << " cannot be opened (truncated or not HDF5?): " << e.what();
    }
    h5::check_object_header(f.get()); // the root group's heap, before any lookup (and params' below)
    h5::Handle g(H5_CHECK(H5Gopen2(f.get(), "params", H5P_DEFAULT)), H5Gclose);
    h5::check_object_header(g.get());
    for (int l = m.first_layer(); l < m.first_layer() + m.num_layers(); ++l)
      for (int k = 0; k < 4; ++k) {
        const ParamInfo& p = *layer_matrices(m, l)[size_t(k)];
        const quant::QuantizedMatrix whole = read_quantized_tensor(g.get(), path, p.name, p.rows, p.cols);
        const std::vector<Rect> rects = shard_rects(p, m.plan().tp_rank, 0, p.numel(), p.rows);
        m.linear(l, LinearIndex(k))
            .set_quantized(quantized_shard(whole, rects, "checkpoint " + path + ": " + p.name));
      }
  });
}

} // namespace

void load_inference_weights(InferenceModel& m, const std::string& path, const CheckpointMeta& meta,
                            MPI_Comm world, WeightFormat float_format, const LoraAdapter* lora) {
  GLM3D_CHECK(float_format == WeightFormat::f32 || float_format == WeightFormat::bf16)
      << "float checkpoints load as f32 or bf16";
  const ShardView view{&m.table(), m.plan().tp_rank, m.first_layer() == 0, 0, false, 0, 0};
  // The 1-D parameters and the embedding, straight into the model.
  std::vector<TensorPiece> pieces;
  for (const ParamInfo& p : m.table().params())
    if (float* dst = m.float_param(p))
      for (const TensorPiece& piece : param_pieces(view, meta.cfg, p, 0, p.numel(), dst))
        pieces.push_back(piece);
  read_checkpoint_file(path, world, meta, pieces);
  if (meta.kind == k_quantized_kind) {
    GLM3D_CHECK(!lora) << "LoRA merges into float weights only";
    load_quantized_matrices(m, path, world);
    return;
  }
  // The matrices a layer at a time (every rank makes as many collective reads as the stage with
  // the most layers), so at most one layer's f32 copy exists besides the stored format.
  int rounds = m.num_layers();
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_INT, MPI_MAX, world));
  for (int i = 0; i < rounds; ++i) {
    std::array<std::vector<float>, 4> w;
    pieces.clear();
    const int l = m.first_layer() + i;
    if (i < m.num_layers())
      for (int k = 0; k < 4; ++k) {
        const ParamInfo& p = *layer_matrices(m, l)[size_t(k)];
        w[size_t(k)].resize(size_t(p.numel()));
        for (const TensorPiece& piece : param_pieces(view, meta.cfg, p, 0, p.numel(), w[size_t(k)].data()))
          pieces.push_back(piece);
      }
    read_checkpoint_file(path, world, meta, pieces);
    if (i < m.num_layers())
      for (int k = 0; k < 4; ++k) {
        const ParamInfo& p = *layer_matrices(m, l)[size_t(k)];
        if (lora && lora->pairs.count(p.name)) // W + scaling B A on this rank's rectangles
          merge_lora_rects(w[size_t(k)].data(), shard_rects(p, m.plan().tp_rank, 0, p.numel(), p.rows),
                           lora->pairs.at(p.name), lora->scaling);
        m.linear(l, LinearIndex(k)).set(std::move(w[size_t(k)]), p.local_rows, p.local_cols, float_format);
      }
  }
}

} // namespace glm3d
