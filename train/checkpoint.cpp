#include "train/checkpoint.h"

#include "parallel/agreement.h"

#include "parallel/mpi_check.h"
#include "train/checkpoint_dir.h"

#include <algorithm>
#include <filesystem>
#include <functional>

namespace glm3d {

TensorPiece param_piece(const ShardView& v, const ModelConfig& cfg, const ParamInfo& p, int64_t a, int64_t b,
                        float* data) {
  const bool emb = p.name == "word_embeddings.weight";
  // One writer per element over the whole job (see the header).
  const bool unique = (!p.tp_replicated() || v.tp_rank == 0) && (!emb || v.first_stage);
  const bool counts = unique && (v.zero || v.dp_rank == 0);
  return {"params", p.name, data, shard_rects(p, v.tp_rank, a, b, emb ? cfg.vocab : p.rows), counts};
}

std::vector<TensorPiece> shard_pieces(const ShardView& v, const ModelConfig& cfg, float* master, float* m,
                                      float* vv) {
  std::vector<TensorPiece> out;
  for (const ParamInfo& p : v.table->params()) {
    const int64_t b = std::max(v.opt_begin, p.offset), e = std::min(v.opt_end, p.offset + p.numel());
    if (b >= e)
      continue;
    out.push_back(param_piece(v, cfg, p, b - p.offset, e - p.offset, master + (b - v.opt_begin)));
    if (!m)
      continue;
    const std::vector<Rect> rects = out.back().rects;
    const bool counts = out.back().counts;
    out.push_back({"adam_m", p.name, m + (b - v.opt_begin), rects, counts});
    out.push_back({"adam_v", p.name, vv + (b - v.opt_begin), rects, counts});
  }
  return out;
}

std::string save_checkpoint(const std::string& dir, int64_t keep, MPI_Comm comm, const CheckpointMeta& meta,
                            const std::vector<TensorPiece>& pieces) {
  run_on_root(comm, 0, [&] {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    GLM3D_USAGE_CHECK(!ec && std::filesystem::is_directory(dir))
        << "cannot create checkpoint directory " << dir << ": " << ec.message();
  });
  const std::string name = checkpoint_file_name(meta.step);
  const std::string tmp = (std::filesystem::path(dir) / (name + ".tmp")).string();
  write_checkpoint_file(tmp, comm, meta, pieces); // closed on every rank when it returns
  MPI_CHECK(MPI_Barrier(comm));
  run_on_root(comm, 0, [&] { commit_checkpoint(dir, tmp, name, keep); });
  return (std::filesystem::path(dir) / name).string();
}

void load_checkpoint(const std::string& path, MPI_Comm comm, const CheckpointMeta& meta,
                     std::vector<TensorPiece>& pieces) {
  read_checkpoint_file(path, comm, meta, pieces);
}

} // namespace glm3d
