#include "train/checkpoint.h"

#include "parallel/mpi_check.h"
#include "train/checkpoint_dir.h"

#include <algorithm>
#include <filesystem>
#include <functional>

namespace glm3d {

std::vector<TensorPiece> shard_pieces(const ShardView& v, const ModelConfig& cfg, float* params, float* m,
                                      float* vv) {
  std::vector<TensorPiece> out;
  for (const ParamInfo& p : v.table->params()) {
    const bool emb = p.name == "word_embeddings.weight";
    const int64_t stored_rows = emb ? cfg.vocab : p.rows;
    // One writer per element over the whole job (see the header).
    const bool unique = (!p.tp_replicated() || v.tp_rank == 0) && (!emb || v.first_stage);
    out.push_back({"params", p.name, params + p.offset, shard_rects(p, v.tp_rank, 0, p.numel(), stored_rows),
                   unique && v.dp_rank == 0});
    if (!m)
      continue;
    const int64_t b = std::max(v.opt_begin, p.offset), e = std::min(v.opt_end, p.offset + p.numel());
    if (b >= e)
      continue;
    const std::vector<Rect> rects = shard_rects(p, v.tp_rank, b - p.offset, e - p.offset, stored_rows);
    const bool counts = unique && (v.zero || v.dp_rank == 0);
    out.push_back({"adam_m", p.name, m + (b - v.opt_begin), rects, counts});
    out.push_back({"adam_v", p.name, vv + (b - v.opt_begin), rects, counts});
  }
  return out;
}

namespace {

// Runs fn on rank 0 and rethrows its UsageError on every rank (so no rank is left waiting).
void on_rank0(MPI_Comm comm, const std::function<void()>& fn) {
  int rank = 0;
  MPI_CHECK(MPI_Comm_rank(comm, &rank));
  std::string error;
  if (rank == 0) {
    try {
      fn();
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty())
        error = "unknown error";
    }
  }
  int len = int(error.size());
  MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, 0, comm));
  error.resize(size_t(len));
  if (len > 0)
    MPI_CHECK(MPI_Bcast(error.data(), len, MPI_CHAR, 0, comm));
  if (len > 0)
    throw UsageError(error);
}

} // namespace

std::string save_checkpoint(const std::string& dir, int64_t keep, MPI_Comm comm, const CheckpointMeta& meta,
                            const std::vector<TensorPiece>& pieces) {
  on_rank0(comm, [&] {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    GLM3D_USAGE_CHECK(!ec && std::filesystem::is_directory(dir))
        << "cannot create checkpoint directory " << dir << ": " << ec.message();
  });
  const std::string name = checkpoint_file_name(meta.step);
  const std::string tmp = (std::filesystem::path(dir) / (name + ".tmp")).string();
  write_checkpoint_file(tmp, comm, meta, pieces); // closed on every rank when it returns
  MPI_CHECK(MPI_Barrier(comm));
  on_rank0(comm, [&] { commit_checkpoint(dir, tmp, name, keep); });
  return (std::filesystem::path(dir) / name).string();
}

void load_checkpoint(const std::string& path, MPI_Comm comm, const CheckpointMeta& meta,
                     std::vector<TensorPiece>& pieces) {
  read_checkpoint_file(path, comm, meta, pieces);
}

} // namespace glm3d
