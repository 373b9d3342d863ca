#include "infer/quantized_checkpoint.h"

#include "core/check.h"
#include "data/h5_attr.h"
#include "data/h5_format.h"
#include "train/checkpoint_io.h"

#include <filesystem>
#include <map>

namespace glm3d {

void quantize_checkpoint(const std::string& in, const std::string& out, WeightFormat format) {
  GLM3D_USAGE_CHECK(is_quantized(format)) << "quantize to int8, int4 or nf4, not " << format_name(format);
  const CheckpointMeta meta = read_checkpoint_meta(in);
  GLM3D_USAGE_CHECK(meta.kind != k_quantized_kind) << "checkpoint " << in << " is already quantized";
  validate(meta.cfg);
  CheckpointMeta qm = meta;
  qm.kind = k_quantized_kind;
  qm.has_optimizer_state = false;
  qm.param_dtype = "f32";
  // The float tensors, read and written whole (the embedding is the largest).
  std::map<std::string, std::vector<float>> floats;
  std::vector<TensorPiece> pieces;
  for (const CkptTensor& t : float_tensors(qm)) {
    std::vector<float>& buf = floats[t.name];
    buf.resize(size_t(t.numel()));
    pieces.push_back({"params", t.name, buf.data(), {Rect{0, 0, t.rows, t.cols}}, true});
  }
  read_checkpoint_file(in, MPI_COMM_SELF, meta, pieces);
  const std::string tmp = out + ".tmp";
  write_checkpoint_file(tmp, MPI_COMM_SELF, qm, pieces);
  floats.clear();
  // The layer matrices, one at a time: read, quantize, append.
  {
    auto lock = h5::library_lock();
    h5::Handle f(H5_CHECK(H5Fopen(tmp.c_str(), H5F_ACC_RDWR, h5::checksummed_fapl().get())), H5Fclose);
    h5::write_attr_str(f.get(), "quantization", format_name(format));
    h5::Handle g(H5_CHECK(H5Gopen2(f.get(), "params", H5P_DEFAULT)), H5Gclose);
    for (const CkptTensor& t : checkpoint_tensors(meta.cfg)) {
      if (layer_matrix_index(t.name) < 0)
        continue;
      std::vector<float> w(size_t(t.numel()));
      std::vector<TensorPiece> one = {{"params", t.name, w.data(), {Rect{0, 0, t.rows, t.cols}}, true}};
      read_checkpoint_file(in, MPI_COMM_SELF, meta, one);
      LinearWeight q;
      q.set(std::move(w), t.rows, t.cols, format);
      write_quantized_tensor(g.get(), t.name, q.quantized());
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out, ec);
  GLM3D_USAGE_CHECK(!ec) << "cannot rename " << tmp << " to " << out << ": " << ec.message();
}

} // namespace glm3d
