#include "infer/chatglm_quantized.h"

#include "core/check.h"
#include "data/h5_attr.h"
#include "data/h5_format.h"
#include "infer/quantized_checkpoint.h"
#include "model/chatglm_convert.h"
#include "model/safetensors.h"
#include "train/checkpoint_io.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace glm3d {

namespace {

namespace fs = std::filesystem;

std::string scale_name(const std::string& weight) { // "x.weight" -> "x.weight_scale"
  return weight + "_scale";
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  GLM3D_USAGE_CHECK(in) << "cannot read " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One matrix's quantized form from the shards: int8 or packed int4 weight and float16 scales.
quant::RowwiseInt read_rowwise(SafetensorsDir& sh, const CkptTensor& t, int bits) {
  const std::string name = chatglm_name(t.name);
  quant::RowwiseInt q;
  q.bits = bits, q.rows = t.rows, q.cols = t.cols;
  const StTensorInfo& w = sh.info(name);
  GLM3D_USAGE_CHECK(w.dtype == StDtype::i8 && w.shape == (std::vector<int64_t>{t.rows, q.stored_cols()}))
      << sh.reader(name).path() << ": tensor '" << name << "' must be I8 [" << t.rows << ", "
      << q.stored_cols() << "] for int" << bits;
  const StTensorInfo& s = sh.info(scale_name(name));
  GLM3D_USAGE_CHECK(s.dtype == StDtype::f16 && s.shape == std::vector<int64_t>{t.rows})
      << sh.reader(scale_name(name)).path() << ": tensor '" << scale_name(name) << "' must be F16 [" << t.rows
      << "]";
  const std::vector<uint8_t> wb = sh.reader(name).read_raw(name),
                             sb = sh.reader(scale_name(name)).read_raw(scale_name(name));
  q.weight.assign(reinterpret_cast<const int8_t*>(wb.data()),
                  reinterpret_cast<const int8_t*>(wb.data()) + wb.size());
  q.scale.resize(size_t(t.rows));
  for (size_t i = 0; i < q.scale.size(); ++i)
    q.scale[i] = uint16_t(sb[2 * i] | sb[2 * i + 1] << 8);
  quant::validate(q, name);
  return q;
}

} // namespace

void import_chatglm_quantized(const std::string& dir, const std::string& out) {
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  const std::string text = read_text(cfg_path);
  CheckpointMeta m;
  m.kind = k_quantized_kind;
  const ConfigJson config(text, cfg_path);
  m.cfg = chatglm_config(config, m.special_tokens);
  SafetensorsDir sh(dir);
  // GeGLU (GLM-130B style): an up-projection twice the activation width, as the float import.
  const std::string up = chatglm_name(layer_param_name(0, "mlp.dense_h_to_4h.weight"));
  if (!sh.info(up).shape.empty() && sh.info(up).shape[0] == 2 * m.cfg.ffn_hidden)
    m.cfg.ffn = FfnKind::geglu;
  validate(m.cfg);
  // The bits: config.json's quantization_bit, else the first weight's width.
  const std::string qkv = chatglm_name(layer_param_name(0, k_layer_matrices[0]));
  int bits = int(config.integer("quantization_bit", 0));
  if (bits == 0)
    bits = sh.info(qkv).shape.size() == 2 && sh.info(qkv).shape[1] == m.cfg.hidden / 2 ? 4 : 8;
  GLM3D_USAGE_CHECK(bits == 8 || bits == 4) << cfg_path << ": quantization_bit must be 8 or 4, got " << bits;
  std::map<std::string, std::vector<float>> floats;
  std::vector<TensorPiece> pieces;
  for (const CkptTensor& t : float_tensors(m)) {
    const std::string name = chatglm_name(t.name);
    const StTensorInfo& info = sh.info(name);
    GLM3D_USAGE_CHECK(info.numel() == t.numel()) << dir << ": tensor '" << name << "' has " << info.numel()
                                                 << " elements, config.json needs " << t.numel();
    floats[t.name] = sh.reader(name).read_f32(name);
    pieces.push_back({"params", t.name, floats[t.name].data(), {Rect{0, 0, t.rows, t.cols}}, true});
  }
  const std::string tmp = out + ".tmp";
  write_checkpoint_file(tmp, MPI_COMM_SELF, m, pieces);
  {
    auto lock = h5::library_lock();
    h5::Handle f(H5_CHECK(H5Fopen(tmp.c_str(), H5F_ACC_RDWR, h5::checksummed_fapl().get())), H5Fclose);
    h5::write_attr_str(f.get(), "quantization", bits == 8 ? "int8" : "int4");
    h5::Handle g(H5_CHECK(H5Gopen2(f.get(), "params", H5P_DEFAULT)), H5Gclose);
    for (const CkptTensor& t : checkpoint_tensors(m.cfg))
      if (layer_matrix_index(t.name) >= 0)
        write_quantized_tensor(g.get(), t.name, read_rowwise(sh, t, bits));
  }
  std::error_code ec;
  fs::rename(tmp, out, ec);
  GLM3D_USAGE_CHECK(!ec) << "cannot rename " << tmp << " to " << out << ": " << ec.message();
}

void export_chatglm_quantized(const std::string& ckpt, const std::string& dir,
                              const std::string& float_dtype) {
  const CheckpointMeta m = read_checkpoint_meta(ckpt);
  GLM3D_USAGE_CHECK(m.kind == k_quantized_kind)
      << "checkpoint " << ckpt << " is not quantized (kind '" << m.kind << "')";
  GLM3D_USAGE_CHECK(float_dtype == "f16" || float_dtype == "bf16" || float_dtype == "f32")
      << "--dtype must be f16, bf16 or f32, got '" << float_dtype << "'";
  const StDtype dt = float_dtype == "f16"    ? StDtype::f16
                     : float_dtype == "bf16" ? StDtype::bf16
                                             : StDtype::f32;
  std::map<std::string, std::vector<float>> floats;
  std::vector<TensorPiece> pieces;
  for (const CkptTensor& t : float_tensors(m)) {
    floats[t.name].resize(size_t(t.numel()));
    pieces.push_back({"params", t.name, floats[t.name].data(), {Rect{0, 0, t.rows, t.cols}}, true});
  }
  read_checkpoint_file(ckpt, MPI_COMM_SELF, m, pieces);
  std::map<std::string, quant::RowwiseInt> mats;
  {
    auto lock = h5::library_lock();
    h5::Handle f(H5_CHECK(H5Fopen(ckpt.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
    h5::Handle g(H5_CHECK(H5Gopen2(f.get(), "params", H5P_DEFAULT)), H5Gclose);
    for (const CkptTensor& t : checkpoint_tensors(m.cfg))
      if (layer_matrix_index(t.name) >= 0) {
        quant::QuantizedMatrix q = read_quantized_tensor(g.get(), ckpt, t.name, t.rows, t.cols);
        GLM3D_USAGE_CHECK(std::holds_alternative<quant::RowwiseInt>(q))
            << "checkpoint " << ckpt << " is NF4: ChatGLM-6B's quantized checkpoints hold int8 or int4 only";
        mats[t.name] = std::get<quant::RowwiseInt>(std::move(q));
      }
  }
  std::vector<StTensorOut> all;
  for (const CkptTensor& t : checkpoint_tensors(m.cfg)) {
    const std::vector<int64_t> shape =
        t.is_vector() ? std::vector<int64_t>{t.rows} : std::vector<int64_t>{t.rows, t.cols};
    if (const auto it = mats.find(t.name); it != mats.end()) {
      const quant::RowwiseInt& q = it->second;
      all.push_back({chatglm_name(t.name), {q.rows, q.stored_cols()}, nullptr, q.weight.data(), StDtype::i8});
      all.push_back({scale_name(chatglm_name(t.name)), {q.rows}, nullptr, q.scale.data(), StDtype::f16});
      continue;
    }
    all.push_back({chatglm_name(t.name), shape, floats.at(t.name).data()});
    if (t.name == "word_embeddings.weight")
      all.push_back({k_chatglm_lm_head, shape, floats.at(t.name).data()});
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  GLM3D_USAGE_CHECK(!ec && fs::is_directory(dir)) << "cannot create " << dir;
  write_safetensors((fs::path(dir) / "model.safetensors").string(), all, dt, {{"format", "pt"}});
  const int bits = mats.begin()->second.bits;
  std::string cfg = chatglm_config_json(m.cfg, m.special_tokens,
                                        dt == StDtype::f16    ? "float16"
                                        : dt == StDtype::bf16 ? "bfloat16"
                                                              : "float32");
  cfg.insert(cfg.rfind('\n', cfg.size() - 3), ",\n  \"quantization_bit\": " + std::to_string(bits));
  std::ofstream(fs::path(dir) / "config.json") << cfg;
}

} // namespace glm3d
