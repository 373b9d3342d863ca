#include "train/checkpoint_stream.h"

#include "data/h5_attr.h"
#include "data/h5_format.h"
#include "train/checkpoint_h5.h"

#include <filesystem>

namespace glm3d {

CheckpointStreamWriter::CheckpointStreamWriter(const std::string& path, const CheckpointMeta& meta)
    : path_(path), tmp_(path + ".tmp"), tensors_(checkpoint_tensors(meta)),
      bf16_(meta.param_dtype == "bf16") {
  GLM3D_CHECK(bf16_ || meta.param_dtype == "f32") << "param_dtype " << meta.param_dtype;
  GLM3D_CHECK(!meta.has_optimizer_state) << "a streamed checkpoint holds parameters only";
  auto lock = h5::library_lock();
  try {
    file_ = h5::Handle(
        H5_CHECK(H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, h5::checksummed_fapl().get())),
        H5Fclose);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "cannot create checkpoint " << tmp_ << ": " << e.what();
  }
  write_checkpoint_meta(file_.get(), meta);
  bf16_type_ = bf16_h5_type();
  h5::Handle grp(H5_CHECK(H5Gcreate2(file_.get(), "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
                 H5Gclose);
  for (const CkptTensor& t : tensors_) {
    index_[t.name] = dsets_.size();
    dsets_.push_back(create_tensor_dataset(grp.get(), t, bf16_ ? bf16_type_.get() : H5T_IEEE_F32LE));
  }
  sums_.assign(tensors_.size(), 0);
  written_.assign(tensors_.size(), false);
}

CheckpointStreamWriter::~CheckpointStreamWriter() {
  if (finished_)
    return;
  {
    auto lock = h5::library_lock();
    dsets_.clear();
    file_ = h5::Handle();
  }
  std::error_code ec;
  std::filesystem::remove(tmp_, ec);
}

void CheckpointStreamWriter::write(const std::string& name, const float* data) {
  const auto it = index_.find(name);
  GLM3D_CHECK(it != index_.end()) << "no tensor '" << name << "' in the checkpoint's config";
  const size_t i = it->second;
  GLM3D_CHECK(!written_[i]) << "tensor '" << name << "' written twice";
  const CkptTensor& t = tensors_[i];
  auto lock = h5::library_lock();
  sums_[i] = write_tensor_piece(dsets_[i].get(), t, data, {Rect{0, 0, t.rows, t.cols}},
                                bf16_ ? bf16_type_.get() : H5I_INVALID_HID);
  written_[i] = true;
}

void CheckpointStreamWriter::finish() {
  for (size_t i = 0; i < tensors_.size(); ++i)
    GLM3D_CHECK(written_[i]) << "tensor '" << tensors_[i].name << "' was never written";
  {
    auto lock = h5::library_lock();
    for (size_t i = 0; i < dsets_.size(); ++i)
      h5::write_attr_u64(dsets_[i].get(), "checksum", sums_[i]);
    dsets_.clear();
    H5_CHECK(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL));
    file_ = h5::Handle();
  }
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  GLM3D_USAGE_CHECK(!ec) << "cannot rename " << tmp_ << " to " << path_ << ": " << ec.message();
  finished_ = true;
}

CheckpointStreamReader::CheckpointStreamReader(const std::string& path)
    : path_(path), meta_(read_checkpoint_meta(path)), tensors_(checkpoint_tensors(meta_)) {
  auto lock = h5::library_lock();
  try {
    file_ = h5::Handle(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "checkpoint " << path << " cannot be opened (truncated or not HDF5?): " << e.what();
  }
  uint64_t sum = 0;
  for (const CkptTensor& t : tensors_)
    open_tensor_checked(file_.get(), path_, "params", t, sum);
}

void CheckpointStreamReader::read(const CkptTensor& t, float* data, const std::string& group) {
  GLM3D_USAGE_CHECK(group == "params" || meta_.has_optimizer_state)
      << "checkpoint " << path_ << " holds no optimizer state (kind '" << meta_.kind << "')";
  auto lock = h5::library_lock();
  uint64_t stored = 0;
  h5::Handle d = open_tensor_checked(file_.get(), path_, group, t, stored);
  const std::vector<Rect> whole = {Rect{0, 0, t.rows, t.cols}};
  read_tensor_piece(d.get(), data, whole, path_, tensor_path(group, t.name));
  check_checksum(path_, tensor_path(group, t.name), stored, checksum_rects(data, whole, t.cols));
}

CheckpointMeta rewrite_weights(CheckpointStreamReader& r, const std::string& out,
                               const std::string& param_dtype,
                               const std::function<void(const CkptTensor&, float*)>& edit) {
  CheckpointMeta m = r.meta();
  m.kind = "weights";
  m.has_optimizer_state = false;
  m.param_dtype = param_dtype;
  CheckpointStreamWriter w(out, m);
  std::vector<float> buf; // one tensor at a time
  for (const CkptTensor& t : r.tensors()) {
    buf.resize(size_t(t.numel()));
    r.read(t, buf.data());
    if (edit)
      edit(t, buf.data());
    w.write(t.name, buf.data());
  }
  w.finish();
  return m;
}

} // namespace glm3d
