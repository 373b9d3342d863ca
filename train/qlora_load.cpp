#include "train/qlora_load.h"

#include "core/check.h"
#include "core/quant/nf4.h"
#include "parallel/agreement.h"
#include "parallel/mpi_check.h"
#include "train/checkpoint_io.h"
#include "train/quantized_shard.h"
#include "train/quantized_tensor_h5.h"

#include <algorithm>
#include <vector>

namespace glm3d {

namespace {

// This rank's layer matrices as the full table has them (the model's own table lacks them).
std::vector<ParamInfo> local_matrices(const GlmModel<float>& model) {
  const ParamTable full(model.config(), model.plan());
  std::vector<ParamInfo> out;
  for (const ParamInfo& p : full.params())
    if (layer_matrix_index(p.name) >= 0)
      out.push_back(p);
  return out;
}

// The whole matrix p in NF4 with double quantization: read from a quantized checkpoint, or read
// as floats and quantized (p null: this rank has no matrix this round, an empty one).
quant::QuantizedMatrix whole_nf4(const ParamInfo* p, const std::string& path, const CheckpointMeta& meta,
                                 MPI_Comm world, bool counted) {
  if (meta.kind == k_quantized_kind) { // no collective: each rank opens the file itself
    quant::QuantizedMatrix q = quant::Nf4{};
    run_agreed(world, [&] {
      if (!p)
        return;
      auto lock = h5::library_lock();
      h5::Handle f(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
      h5::Handle g(H5_CHECK(H5Gopen2(f.get(), "params", H5P_DEFAULT)), H5Gclose);
      q = read_quantized_tensor(g.get(), path, p->name, p->rows, p->cols);
      GLM3D_USAGE_CHECK(std::holds_alternative<quant::Nf4>(q) && std::get<quant::Nf4>(q).nested)
          << "checkpoint " << path << ": " << p->name
          << " is not NF4 with double quantization; QLoRA reads nf4 checkpoints (glm3d ckpt quantize --bits "
             "nf4) "
             "or float ones";
    });
    return q;
  }
  std::vector<float> w(p ? size_t(p->full_numel()) : 0); // [rows, cols] f32, one matrix at a time
  std::vector<TensorPiece> pieces;
  if (p)
    pieces.push_back({"params", p->name, w.data(), {Rect{0, 0, p->rows, p->cols}}, counted});
  read_checkpoint_file(path, world, meta, pieces);
  if (!p)
    return quant::Nf4{};
  return quant::quantize_nf4(w.data(), p->rows, p->cols, /*double_quant=*/true);
}

} // namespace

void load_nf4_base(GlmModel<float>& model, const std::string& path, const CheckpointMeta& meta,
                   MPI_Comm world, bool counted) {
  const std::vector<ParamInfo> mats = local_matrices(model);
  int64_t rounds = int64_t(mats.size());
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_INT64_T, MPI_MAX, world));
  const int tp_rank = model.plan().tp_rank;
  for (int64_t i = 0; i < rounds; ++i) {
    const ParamInfo* p = i < int64_t(mats.size()) ? &mats[size_t(i)] : nullptr;
    const quant::QuantizedMatrix whole = whole_nf4(p, path, meta, world, counted);
    run_agreed(world, [&] { // a shard splitting NF4 blocks: the layout, on every rank
      if (p)
        model.nf4_base().set(
            p->name, quantized_shard(whole, shard_rects(*p, tp_rank, 0, p->numel(), p->rows),
                                     "QLoRA base " + p->name + " at tp rank " + std::to_string(tp_rank)));
    });
  }
}

} // namespace glm3d
