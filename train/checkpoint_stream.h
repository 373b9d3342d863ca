#pragma once
// A checkpoint file (docs/checkpoint.md) written or read by one process, one tensor at a time,
// so that an import or an export holds one tensor rather than the model. Same format as the
// parallel writer (checkpoint_io.h), same metadata and checksums (checkpoint_h5.h); plain HDF5
// (no MPI-IO).
#include "data/h5_check.h"
#include "train/checkpoint_format.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace glm3d {

class CheckpointStreamWriter {
public:
  // Creates PATH.tmp holding the metadata and every `params` dataset of meta.cfg (f32, or bf16
  // when meta.param_dtype is "bf16"; no optimizer state). UsageError when it cannot be created.
  CheckpointStreamWriter(const std::string& path, const CheckpointMeta& meta);
  ~CheckpointStreamWriter(); // removes PATH.tmp unless finish() ran
  CheckpointStreamWriter(const CheckpointStreamWriter&) = delete;
  CheckpointStreamWriter& operator=(const CheckpointStreamWriter&) = delete;

  const std::vector<CkptTensor>& tensors() const { return tensors_; }
  // Writes params/<name> whole: data holds rows * cols floats, row-major (any order of tensors,
  // each once).
  void write(const std::string& name, const float* data);
  // Every tensor written: checksums stored, the file closed and renamed to PATH.
  void finish();

private:
  std::string path_, tmp_;
  std::vector<CkptTensor> tensors_;
  std::map<std::string, size_t> index_;
  std::vector<h5::Handle> dsets_;
  std::vector<uint64_t> sums_;
  std::vector<bool> written_;
  h5::Handle file_, bf16_type_;
  bool bf16_ = false, finished_ = false;
};

class CheckpointStreamReader {
public:
  // Reads the metadata and checks that every `params` tensor of its config is there with its
  // shape and a checksum (UsageError naming the file and the tensor otherwise).
  explicit CheckpointStreamReader(const std::string& path);
  const std::string& path() const { return path_; }
  const CheckpointMeta& meta() const { return meta_; }
  const std::vector<CkptTensor>& tensors() const { return tensors_; }
  // group/<t.name> whole into data (t.numel() floats, whatever the stored type), its checksum
  // verified. group: params, or adam_m / adam_v of a checkpoint with optimizer state.
  void read(const CkptTensor& t, float* data, const std::string& group = "params");

private:
  std::string path_;
  CheckpointMeta meta_;
  std::vector<CkptTensor> tensors_;
  h5::Handle file_;
};

// A whole-model checkpoint rewritten tensor by tensor into `out` (kind "weights", no optimizer
// state, params in param_dtype f32 or bf16), each tensor passed through `edit` (when given) between
// the read and the write. Returns the metadata written.
CheckpointMeta rewrite_weights(CheckpointStreamReader& r, const std::string& out,
                               const std::string& param_dtype,
                               const std::function<void(const CkptTensor&, float*)>& edit = {});

} // namespace glm3d
