#include "train/checkpoint_h5.h"

#include "core/dtype.h"
#include "data/h5_attr.h"
#include "data/h5_check.h"
#include "data/h5_object_header.h"

#include <filesystem>
#include <sstream>

namespace glm3d {

namespace {

void write_config(hid_t file, const ModelConfig& c) {
  h5::Handle g(H5_CHECK(H5Gcreate2(file, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose);
  h5::write_attr_str(g.get(), "name", c.name);
  h5::write_attr_i64(g.get(), "num_layers", c.num_layers);
  h5::write_attr_i64(g.get(), "hidden", c.hidden);
  h5::write_attr_i64(g.get(), "num_heads", c.num_heads);
  h5::write_attr_i64(g.get(), "ffn_hidden", c.ffn_hidden);
  h5::write_attr_i64(g.get(), "vocab", c.vocab);
  h5::write_attr_i64(g.get(), "seq_len", c.seq_len);
  h5::write_attr_str(g.get(), "ffn", to_string(c.ffn));
  h5::write_attr_str(g.get(), "rope", to_string(c.rope));
  h5::write_attr_str(g.get(), "norm", to_string(c.norm));
  h5::write_attr_str(g.get(), "residual", to_string(c.residual));
  h5::write_attr_str(g.get(), "mask", to_string(c.mask));
  h5::write_attr_i64(g.get(), "kv_groups", c.kv_groups);
  h5::write_attr_i64(g.get(), "tie_embeddings", c.tie_embeddings ? 1 : 0);
  h5::write_attr_i64(g.get(), "qkv_bias", c.qkv_bias ? 1 : 0);
  h5::write_attr_i64(g.get(), "linear_bias", c.linear_bias ? 1 : 0);
  h5::write_attr_f64(g.get(), "rope_base", c.rope_base);
  h5::write_attr_f64(g.get(), "ln_eps", c.ln_eps);
  h5::write_attr_f64(g.get(), "init_std", c.init_std);
  h5::write_attr_f64(g.get(), "lr", c.lr);
}

// Reads a root/config attribute, turning a missing one into a UsageError naming the file.
struct MetaReader {
  const std::string& path;
  void need(hid_t obj, const char* name) const {
    GLM3D_USAGE_CHECK(h5::has_attr(obj, name))
        << "checkpoint " << path << ": missing attribute '" << name << "'";
  }
  int64_t i64(hid_t obj, const char* name) const { return need(obj, name), h5::read_attr_i64(obj, name); }
  uint64_t u64(hid_t obj, const char* name) const { return need(obj, name), h5::read_attr_u64(obj, name); }
  double f64(hid_t obj, const char* name) const { return need(obj, name), h5::read_attr_f64(obj, name); }
  std::string str(hid_t obj, const char* name) const { return need(obj, name), h5::read_attr_str(obj, name); }
};

h5::Handle file_space(const CkptTensor& t) {
  const hsize_t dims[2] = {hsize_t(t.rows), hsize_t(t.cols)};
  return h5::Handle(H5_CHECK(H5Screate_simple(t.is_vector() ? 1 : 2, dims, nullptr)), H5Sclose);
}

// The dataset's file space with the union of rects selected, and a 1-D memory space of as many.
struct Selection {
  h5::Handle file, mem;
};
Selection select_rects(hid_t dset, const std::vector<Rect>& rects) {
  Selection s{h5::Handle(H5_CHECK(H5Dget_space(dset)), H5Sclose), {}};
  H5_CHECK(H5Sselect_none(s.file.get()));
  for (const Rect& r : rects) {
    const hsize_t start[2] = {hsize_t(r.r0), hsize_t(r.c0)}, count[2] = {hsize_t(r.nr), hsize_t(r.nc)};
    H5_CHECK(H5Sselect_hyperslab(s.file.get(), H5S_SELECT_OR, start, nullptr, count, nullptr));
  }
  const hsize_t n[1] = {hsize_t(rects_numel(rects))};
  s.mem = h5::Handle(H5_CHECK(H5Screate_simple(1, n, nullptr)), H5Sclose);
  return s;
}

} // namespace

h5::Handle bf16_h5_type() {
  return h5::half_float_type(8);
}

void write_checkpoint_meta(hid_t f, const CheckpointMeta& m) {
  h5::write_attr_str(f, "format", k_checkpoint_format);
  h5::write_attr_i64(f, "format_version", k_checkpoint_format_version);
  h5::write_attr_str(f, "glm3d_version", m.glm3d_version);
  h5::write_attr_str(f, "kind", m.kind);
  h5::write_attr_i64(f, "step", m.step);
  h5::write_attr_i64(f, "skipped_steps", m.skipped_steps);
  h5::write_attr_i64(f, "next_sample", m.next_sample);
  h5::write_attr_i64(f, "global_batch", m.global_batch);
  h5::write_attr_u64(f, "seed", m.seed);
  h5::write_attr_f64(f, "lr_max", m.lr_max);
  h5::write_attr_f64(f, "lr_min", m.lr_min);
  h5::write_attr_i64(f, "lr_warmup_steps", m.warmup_steps);
  h5::write_attr_i64(f, "lr_decay_steps", m.decay_steps);
  h5::write_attr_f64(f, "adam_beta1", m.beta1);
  h5::write_attr_f64(f, "adam_beta2", m.beta2);
  h5::write_attr_f64(f, "adam_eps", m.eps);
  h5::write_attr_f64(f, "weight_decay", m.weight_decay);
  h5::write_attr_i64(f, "micro_batch", m.micro_batch);
  h5::write_attr_f64(f, "clip_grad", m.clip_grad);
  h5::write_attr_i64(f, "has_optimizer_state", m.has_optimizer_state ? 1 : 0);
  h5::write_attr_i64(f, "layout_tp", m.tp);
  h5::write_attr_i64(f, "layout_pp", m.pp);
  h5::write_attr_i64(f, "layout_dp", m.dp);
  h5::write_attr_i64(f, "layout_virtual_stages", m.virtual_stages);
  h5::write_attr_i64(f, "layout_zero", m.zero);
  h5::write_attr_str(f, "tokenizer_sha256", m.tokenizer_sha256);
  h5::write_attr_str(f, "param_dtype", m.param_dtype);
  if (m.kind == "finetune") { // what the adapter tensors are
    const AdapterSpec& a = m.adapters;
    std::string targets;
    for (const auto& t : a.lora_targets)
      targets += (targets.empty() ? "" : ",") + t;
    h5::write_attr_str(f, "finetune_method", to_string(a.method));
    h5::write_attr_i64(f, "lora_r", a.lora_r);
    h5::write_attr_f64(f, "lora_alpha", a.lora_alpha);
    h5::write_attr_f64(f, "lora_dropout", a.lora_dropout);
    h5::write_attr_str(f, "lora_targets", targets);
    h5::write_attr_i64(f, "pre_seq_len", a.pre_seq_len);
    h5::write_attr_i64(f, "prefix_projection", a.prefix_projection ? 1 : 0);
    h5::write_attr_f64(f, "prefix_dropout", a.prefix_dropout);
    h5::write_attr_str(f, "finetune_base", m.base_checkpoint);
  } else if (m.adapters.method == FinetuneMethod::full) { // glm3d finetune --method full
    h5::write_attr_str(f, "finetune_method", to_string(m.adapters.method));
  }
  write_config(f, m.cfg);
  if (!m.special_tokens.empty()) {
    h5::Handle g(H5_CHECK(H5Gcreate2(f, "special_tokens", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose);
    for (const auto& [k, v] : m.special_tokens)
      h5::write_attr_i64(g.get(), k, v);
  }
}

namespace {

// The run's attributes at the file's root: step, data position, schedule, optimizer, layout.
void read_run_attrs(hid_t f, const MetaReader& r, CheckpointMeta& m) {
  m.glm3d_version = r.str(f, "glm3d_version");
  m.kind = r.str(f, "kind");
  m.step = r.i64(f, "step");
  m.skipped_steps = r.i64(f, "skipped_steps");
  m.next_sample = r.i64(f, "next_sample");
  m.global_batch = r.i64(f, "global_batch");
  m.seed = r.u64(f, "seed");
  m.lr_max = r.f64(f, "lr_max");
  m.lr_min = r.f64(f, "lr_min");
  m.warmup_steps = r.i64(f, "lr_warmup_steps");
  m.decay_steps = r.i64(f, "lr_decay_steps");
  m.beta1 = r.f64(f, "adam_beta1");
  m.beta2 = r.f64(f, "adam_beta2");
  m.eps = r.f64(f, "adam_eps");
  m.weight_decay = r.f64(f, "weight_decay");
  if (h5::has_attr(f, "micro_batch"))
    m.micro_batch = h5::read_attr_i64(f, "micro_batch");
  if (h5::has_attr(f, "clip_grad"))
    m.clip_grad = h5::read_attr_f64(f, "clip_grad");
  m.has_optimizer_state = r.i64(f, "has_optimizer_state") != 0;
  m.tp = int(r.i64(f, "layout_tp"));
  m.pp = int(r.i64(f, "layout_pp"));
  m.dp = int(r.i64(f, "layout_dp"));
  m.virtual_stages = int(r.i64(f, "layout_virtual_stages"));
  m.zero = int(r.i64(f, "layout_zero"));
  m.tokenizer_sha256 = r.str(f, "tokenizer_sha256");
  m.param_dtype = r.str(f, "param_dtype");
}

// A fine-tuning checkpoint's adapter settings and base (a merged one: its method only).
void read_adapter_attrs(hid_t f, const MetaReader& r, CheckpointMeta& m) {
  if (m.kind == "finetune") {
    AdapterSpec& a = m.adapters;
    a.method = parse_finetune_method(r.str(f, "finetune_method"));
    a.lora_r = r.i64(f, "lora_r");
    a.lora_alpha = r.f64(f, "lora_alpha");
    a.lora_dropout = r.f64(f, "lora_dropout");
    a.lora_targets = parse_lora_targets(r.str(f, "lora_targets"));
    a.pre_seq_len = r.i64(f, "pre_seq_len");
    a.prefix_projection = r.i64(f, "prefix_projection") != 0;
    a.prefix_dropout = r.f64(f, "prefix_dropout");
    m.base_checkpoint = r.str(f, "finetune_base");
  } else if (h5::has_attr(f, "finetune_method")) {
    m.adapters.method = parse_finetune_method(r.str(f, "finetune_method"));
  }
}

// The model config from group "config", validated.
ModelConfig read_config_group(hid_t f, const MetaReader& r, const std::string& path) {
  GLM3D_USAGE_CHECK(H5_CHECK(H5Lexists(f, "config", H5P_DEFAULT)) > 0)
      << "checkpoint " << path << ": missing group 'config'";
  h5::Handle g(H5_CHECK(H5Gopen2(f, "config", H5P_DEFAULT)), H5Gclose);
  ModelConfig c;
  c.name = r.str(g.get(), "name");
  c.num_layers = r.i64(g.get(), "num_layers");
  c.hidden = r.i64(g.get(), "hidden");
  c.num_heads = r.i64(g.get(), "num_heads");
  c.ffn_hidden = r.i64(g.get(), "ffn_hidden");
  c.vocab = r.i64(g.get(), "vocab");
  c.seq_len = r.i64(g.get(), "seq_len");
  const std::string ffn = r.str(g.get(), "ffn"), rope = r.str(g.get(), "rope");
  const std::string where = "checkpoint " + path + ": config ";
  c.ffn = parse_ffn(ffn, where + "ffn");
  c.rope = parse_rope(rope, where + "rope");
  // Architecture keys newer than format 1's first files: absent means GLM-130B / ChatGLM-6B's.
  if (h5::has_attr(g.get(), "norm")) {
    c.norm = parse_norm(r.str(g.get(), "norm"), where + "norm");
    c.residual = parse_residual(r.str(g.get(), "residual"), where + "residual");
    c.mask = parse_mask(r.str(g.get(), "mask"), where + "mask");
    c.kv_groups = r.i64(g.get(), "kv_groups");
    c.tie_embeddings = r.i64(g.get(), "tie_embeddings") != 0;
    c.qkv_bias = r.i64(g.get(), "qkv_bias") != 0;
    c.linear_bias = r.i64(g.get(), "linear_bias") != 0;
  }
  c.rope_base = r.f64(g.get(), "rope_base");
  c.ln_eps = r.f64(g.get(), "ln_eps");
  c.init_std = r.f64(g.get(), "init_std");
  c.lr = r.f64(g.get(), "lr");
  try {
    validate(c);
  } catch (const UsageError& e) {
    GLM3D_USAGE_FAIL() << "checkpoint " << path << ": " << e.what();
  }
  return c;
}

// Every float tensor is in the file (parallel HDF5 allocates a dataset's storage when it
// creates it), at 2 bytes an element at least (bf16): a config larger than the file is
// damage, and the readers would walk and allocate for tensors that cannot be there. First
// the layers' input norms alone (hidden elements each, in every kind of checkpoint), before
// the tensor list is built: its size grows with num_layers (100000 layers: 288 MB).
void check_config_fits_file(const CheckpointMeta& m, const std::string& path) {
  const ModelConfig& c = m.cfg;
  const uint64_t file_bytes = std::filesystem::file_size(path);
  GLM3D_USAGE_CHECK(2.0 * double(c.num_layers) * double(c.hidden) <= double(file_bytes))
      << "checkpoint " << path << ": its config has " << c.num_layers << " layers of hidden size " << c.hidden
      << ", more than the file's " << file_bytes << " bytes can hold";
  double elems = 0;
  for (const CkptTensor& t : float_tensors(m))
    elems += double(t.rows) * double(t.cols);
  GLM3D_USAGE_CHECK(2.0 * elems <= double(file_bytes))
      << "checkpoint " << path << ": its config has " << elems << " stored elements, more than the file's "
      << file_bytes << " bytes can hold";
}

// Group "special_tokens" (name -> id attributes), when present.
void read_special_tokens(hid_t f, CheckpointMeta& m) {
  if (H5_CHECK(H5Lexists(f, "special_tokens", H5P_DEFAULT)) <= 0)
    return;
  h5::Handle s(H5_CHECK(H5Gopen2(f, "special_tokens", H5P_DEFAULT)), H5Gclose);
  h5::check_object_header(s.get()); // before HDF5 decodes its attributes (data/h5_object_header.h)
  H5O_info_t info;
  H5_CHECK(H5Oget_info2(s.get(), &info, H5O_INFO_NUM_ATTRS));
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    char name[256] = {0};
    H5_CHECK(H5Aget_name_by_idx(s.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT));
    m.special_tokens[name] = h5::read_attr_i64(s.get(), name);
  }
}

} // namespace

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  GLM3D_USAGE_CHECK(std::filesystem::is_regular_file(path)) << "checkpoint " << path << " does not exist";
  auto lock = h5::library_lock();
  h5::Handle f;
  try {
    h5::check_root_before_open(path);
    f = h5::Handle(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "checkpoint " << path << " cannot be opened (truncated or not HDF5?): " << e.what();
  }
  h5::check_object_header(f.get()); // the root group's heap, before any lookup
  const MetaReader r{path};
  CheckpointMeta m;
  try {
    GLM3D_USAGE_CHECK(h5::has_attr(f.get(), "format") &&
                      h5::read_attr_str(f.get(), "format") == k_checkpoint_format)
        << "checkpoint " << path << ": not a glm3d checkpoint (attribute 'format' is not '"
        << k_checkpoint_format << "')";
    const int64_t version = r.i64(f.get(), "format_version");
    GLM3D_USAGE_CHECK(version == k_checkpoint_format_version)
        << "checkpoint " << path << ": format_version " << version << ", this glm3d reads version "
        << k_checkpoint_format_version;
    read_run_attrs(f.get(), r, m);
    read_adapter_attrs(f.get(), r, m);
    m.cfg = read_config_group(f.get(), r, path);
    check_config_fits_file(m, path);
    read_special_tokens(f.get(), m);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "checkpoint " << path << " is unreadable: " << e.what();
  }
  return m;
}

h5::Handle create_tensor_dataset(hid_t group, const CkptTensor& t, hid_t type) {
  h5::Handle space = file_space(t);
  return h5::Handle(
      H5_CHECK(H5Dcreate2(group, t.name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
      H5Dclose);
}

namespace {

// A contiguous dataset's elements (glm3d writes tensors so) must lie inside the file: HDF5 reads
// them from the address its layout message holds, and one past the end fails H5Dread with "addr
// overflow" (a damaged address: found by tests/fuzz, regressions/ckpt). UsageError otherwise.
void check_contiguous_inside_file(hid_t file, hid_t dset, uint64_t elements, const std::string& path,
                                  const std::string& name) {
  const haddr_t at = H5Dget_offset(dset); // HADDR_UNDEF: chunked, compact or never written
  if (at == HADDR_UNDEF)
    return;
  h5::Handle type(H5_CHECK(H5Dget_type(dset)), H5Tclose);
  const double bytes = double(elements) * double(H5Tget_size(type.get()));
  hsize_t file_bytes = 0;
  H5_CHECK(H5Fget_filesize(file, &file_bytes));
  GLM3D_USAGE_CHECK(double(at) + bytes <= double(file_bytes))
      << "checkpoint " << path << ": tensor '" << name << "' stores its " << bytes << " bytes at offset "
      << at << ", past the end of the " << file_bytes << "-byte file";
}

} // namespace

h5::Handle open_tensor_checked(hid_t file, const std::string& path, const std::string& group,
                               const CkptTensor& t, uint64_t& stored_checksum) {
  const std::string name = tensor_path(group, t.name);
  try {
    GLM3D_USAGE_CHECK(H5_CHECK(H5Lexists(file, group.c_str(), H5P_DEFAULT)) > 0 &&
                      H5_CHECK(H5Lexists(file, name.c_str(), H5P_DEFAULT)) > 0)
        << "checkpoint " << path << ": missing tensor '" << name << "'";
    h5::Handle d(H5_CHECK(H5Dopen2(file, name.c_str(), H5P_DEFAULT)), H5Dclose);
    h5::Handle s(H5_CHECK(H5Dget_space(d.get())), H5Sclose);
    hsize_t dims[2] = {0, 0};
    const int nd = H5_CHECK(H5Sget_simple_extent_ndims(s.get()));
    GLM3D_USAGE_CHECK(nd == (t.is_vector() ? 1 : 2))
        << "checkpoint " << path << ": tensor '" << name << "' has " << nd << " dimensions";
    H5_CHECK(H5Sget_simple_extent_dims(s.get(), dims, nullptr));
    const int64_t cols = t.is_vector() ? 1 : int64_t(dims[1]);
    GLM3D_USAGE_CHECK(int64_t(dims[0]) == t.rows && cols == t.cols)
        << "checkpoint " << path << ": tensor '" << name << "' has shape [" << dims[0] << ", " << cols
        << "], the config needs [" << t.rows << ", " << t.cols << "]";
    check_contiguous_inside_file(file, d.get(), uint64_t(t.rows) * uint64_t(cols), path, name);
    GLM3D_USAGE_CHECK(h5::has_attr(d.get(), "checksum"))
        << "checkpoint " << path << ": tensor '" << name << "' has no checksum (incomplete write?)";
    stored_checksum = h5::read_attr_u64(d.get(), "checksum");
    return d;
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "checkpoint " << path << ": tensor '" << name << "' is unreadable: " << e.what();
  }
}

uint64_t write_tensor_piece(hid_t dset, const CkptTensor& t, const float* data,
                            const std::vector<Rect>& rects, hid_t bf16_type) {
  const int64_t n = rects_numel(rects);
  if (n == 0)
    return 0;
  Selection s = select_rects(dset, rects);
  if (bf16_type < 0) {
    H5_CHECK(H5Dwrite(dset, H5T_NATIVE_FLOAT, s.mem.get(), s.file.get(), H5P_DEFAULT, data));
    return checksum_rects(data, rects, t.cols);
  }
  // Rounded here (nearest even); the checksum is of the rounded values.
  std::vector<uint16_t> bits(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k)
    bits[size_t(k)] = bf16(data[k]).bits;
  H5_CHECK(H5Dwrite(dset, bf16_type, s.mem.get(), s.file.get(), H5P_DEFAULT, bits.data()));
  return checksum_rects(data, rects, t.cols, true);
}

void read_tensor_piece(hid_t dset, float* data, const std::vector<Rect>& rects, const std::string& path,
                       const std::string& name) {
  if (rects_numel(rects) == 0)
    return;
  Selection s = select_rects(dset, rects);
  try {
    H5_CHECK(H5Dread(dset, H5T_NATIVE_FLOAT, s.mem.get(), s.file.get(), H5P_DEFAULT, data));
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "checkpoint " << path << ": tensor '" << name << "' is unreadable: " << e.what();
  }
}

void check_checksum(const std::string& path, const std::string& name, uint64_t stored, uint64_t data) {
  auto hex = [](uint64_t v) {
    std::ostringstream os;
    os << "0x" << std::hex << v;
    return os.str();
  };
  GLM3D_USAGE_CHECK(stored == data) << "checkpoint " << path << ": tensor '" << name
                                    << "' fails its checksum (stored " << hex(stored) << ", data "
                                    << hex(data) << "): the file is corrupted";
}

} // namespace glm3d
