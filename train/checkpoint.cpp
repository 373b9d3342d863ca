#include "train/checkpoint.h"

#include "parallel/agreement.h"

#include "parallel/mpi_check.h"
#include "train/checkpoint_dir.h"

#include <algorithm>
#include <filesystem>
#include <functional>

namespace glm3d {

std::vector<TensorPiece> param_pieces(const ShardView& v, const ModelConfig& cfg, const ParamInfo& p,
                                      int64_t a, int64_t b, float* data) {
  std::vector<TensorPiece> out;
  const int64_t stored_rows = p.vocab_rows ? cfg.vocab : p.rows;
  // One writer per element over the whole job (see the header): this rank's tp-unique part of
  // the tensor, the tied embedding on the first stage, dp rank 0 (or each ZeRO-1 range).
  const bool stage_ok = !p.first_stage_only || v.first_stage;
  const bool dp_ok = v.zero || v.dp_rank == 0;
  // Cut [a, b) where its tp-unique ranges start and end.
  std::vector<int64_t> cuts = {a, b};
  const auto unique = p.tp_unique_ranges(v.tp_rank);
  for (const auto& [ub, ue] : unique)
    for (int64_t c : {ub, ue})
      if (c > a && c < b)
        cuts.push_back(c);
  std::sort(cuts.begin(), cuts.end());
  for (size_t k = 0; k + 1 < cuts.size(); ++k) {
    const int64_t lb = cuts[k], le = cuts[k + 1];
    if (lb >= le)
      continue;
    bool tp_ok = false;
    for (const auto& [ub, ue] : unique)
      tp_ok |= lb >= ub && le <= ue;
    out.push_back({"params", p.name, data + (lb - a), shard_rects(p, v.tp_rank, lb, le, stored_rows),
                   tp_ok && stage_ok && dp_ok});
  }
  return out;
}

std::vector<TensorPiece> shard_pieces(const ShardView& v, const ModelConfig& cfg, float* master, float* m,
                                      float* vv) {
  std::vector<TensorPiece> out;
  for (const ParamInfo& p : v.table->params()) {
    const int64_t b = std::max(v.opt_begin, p.offset), e = std::min(v.opt_end, p.offset + p.numel());
    if (b >= e)
      continue;
    for (const TensorPiece& piece :
         param_pieces(v, cfg, p, b - p.offset, e - p.offset, master + (b - v.opt_begin))) {
      out.push_back(piece);
      if (!m)
        continue;
      const int64_t at = piece.data - master;
      out.push_back({"adam_m", p.name, m + at, piece.rects, piece.counts});
      out.push_back({"adam_v", p.name, vv + at, piece.rects, piece.counts});
    }
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
                     std::vector<TensorPiece>& pieces, ChecksumTally* tally) {
  read_checkpoint_file(path, comm, meta, pieces, tally);
}

} // namespace glm3d
