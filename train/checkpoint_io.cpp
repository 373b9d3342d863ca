#include "train/checkpoint_io.h"

#include "core/dtype.h"
#include "data/h5_attr.h"
#include "data/h5_check.h"
#include "parallel/mpi_check.h"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

namespace glm3d {

namespace {

const char* const k_groups[] = {"params", "adam_m", "adam_v"};

std::string hex(uint64_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

h5::Handle mpio_fapl(MPI_Comm comm) {
  h5::Handle fapl(H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
  H5_CHECK(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL));
  return fapl;
}

// bfloat16 as an HDF5 float type: sign bit 15, exponent bits 7..14 (bias 127), mantissa 0..6.
// HDF5 converts it to and from native floats, so h5py and glm3d read it as numbers.
h5::Handle bf16_type() {
  h5::Handle t(H5_CHECK(H5Tcopy(H5T_IEEE_F32LE)), H5Tclose);
  H5_CHECK(H5Tset_fields(t.get(), 15, 7, 8, 0, 7));
  H5_CHECK(H5Tset_offset(t.get(), 0));
  H5_CHECK(H5Tset_precision(t.get(), 16));
  H5_CHECK(H5Tset_size(t.get(), 2));
  H5_CHECK(H5Tset_ebias(t.get(), 127));
  return t;
}

h5::Handle file_space(const CkptTensor& t) {
  const hsize_t dims[2] = {hsize_t(t.rows), hsize_t(t.cols)};
  return h5::Handle(H5_CHECK(H5Screate_simple(t.is_vector() ? 1 : 2, dims, nullptr)), H5Sclose);
}

// Selects the union of rects in a dataset's file space.
void select_rects(hid_t space, const CkptTensor& t, const std::vector<Rect>& rects) {
  H5_CHECK(H5Sselect_none(space));
  for (const Rect& r : rects) {
    const hsize_t start[2] = {hsize_t(r.r0), hsize_t(r.c0)}, count[2] = {hsize_t(r.nr), hsize_t(r.nc)};
    H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_OR, start, nullptr, count, nullptr));
  }
  (void)t;
}

h5::Handle mem_space(int64_t n) {
  const hsize_t d[1] = {hsize_t(n)};
  return h5::Handle(H5_CHECK(H5Screate_simple(1, d, nullptr)), H5Sclose);
}

void write_config(hid_t file, const ModelConfig& c) {
  h5::Handle g(H5_CHECK(H5Gcreate2(file, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose);
  h5::write_attr_str(g.get(), "name", c.name);
  h5::write_attr_i64(g.get(), "num_layers", c.num_layers);
  h5::write_attr_i64(g.get(), "hidden", c.hidden);
  h5::write_attr_i64(g.get(), "num_heads", c.num_heads);
  h5::write_attr_i64(g.get(), "ffn_hidden", c.ffn_hidden);
  h5::write_attr_i64(g.get(), "vocab", c.vocab);
  h5::write_attr_i64(g.get(), "seq_len", c.seq_len);
  h5::write_attr_str(g.get(), "ffn", c.ffn == FfnKind::geglu ? "geglu" : "gelu");
  h5::write_attr_str(g.get(), "rope", c.rope == RopeKind::two_d ? "2d" : "1d");
  h5::write_attr_f64(g.get(), "rope_base", c.rope_base);
  h5::write_attr_f64(g.get(), "ln_eps", c.ln_eps);
  h5::write_attr_f64(g.get(), "init_std", c.init_std);
  h5::write_attr_f64(g.get(), "lr", c.lr);
}

void write_meta(hid_t f, const CheckpointMeta& m) {
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
  write_config(f, m.cfg);
  if (!m.special_tokens.empty()) {
    h5::Handle g(H5_CHECK(H5Gcreate2(f, "special_tokens", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose);
    for (const auto& [k, v] : m.special_tokens)
      h5::write_attr_i64(g.get(), k, v);
  }
}

std::string group_path(const std::string& group, const std::string& name) {
  return group + "/" + name;
}

} // namespace

void write_checkpoint_file(const std::string& path, MPI_Comm comm, const CheckpointMeta& meta,
                           const std::vector<TensorPiece>& pieces) {
  int rank = 0;
  MPI_CHECK(MPI_Comm_rank(comm, &rank));
  const char* crash_env = std::getenv("GLM3D_TEST_CRASH_IN_SAVE");
  const bool crash_test = rank == 0 && crash_env && std::atoll(crash_env) == meta.step;
  // The whole save holds the HDF5 lock: the data loader's prefetch thread waits meanwhile.
  auto lock = h5::library_lock();
  h5::Handle fapl = mpio_fapl(comm);
  h5::Handle file;
  try {
    file = h5::Handle(H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get())), H5Fclose);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "cannot create checkpoint " << path << ": " << e.what();
  }
  write_meta(file.get(), meta);
  const std::vector<CkptTensor> tensors = checkpoint_tensors(meta.cfg);
  const int num_groups = meta.has_optimizer_state ? 3 : 1;
  const bool bf16_params = meta.param_dtype == "bf16";
  GLM3D_CHECK(bf16_params || meta.param_dtype == "f32") << "param_dtype " << meta.param_dtype;
  h5::Handle bf16t = bf16_type();

  std::map<std::string, std::vector<const TensorPiece*>> by_tensor;
  for (const TensorPiece& p : pieces)
    if (p.counts)
      by_tensor[group_path(p.group, p.name)].push_back(&p);

  // Metadata first (collective: every rank creates every dataset), then each rank's data.
  std::vector<h5::Handle> dsets;
  for (int g = 0; g < num_groups; ++g) {
    h5::Handle grp(H5_CHECK(H5Gcreate2(file.get(), k_groups[g], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
                   H5Gclose);
    for (const CkptTensor& t : tensors) {
      h5::Handle space = file_space(t);
      const hid_t type = g == 0 && bf16_params ? bf16t.get() : H5T_IEEE_F32LE;
      dsets.emplace_back(H5_CHECK(H5Dcreate2(grp.get(), t.name.c_str(), type, space.get(), H5P_DEFAULT,
                                             H5P_DEFAULT, H5P_DEFAULT)),
                         H5Dclose);
    }
  }
  std::vector<uint64_t> sums(dsets.size(), 0);
  std::vector<uint16_t> bf16_buf;
  for (int g = 0; g < num_groups; ++g) {
    for (size_t i = 0; i < tensors.size(); ++i) {
      const CkptTensor& t = tensors[i];
      const size_t d = size_t(g) * tensors.size() + i;
      // Simulates a node dying halfway through writing the data (no flush: that is collective).
      if (crash_test && g == 0 && i == tensors.size() / 2)
        std::raise(SIGKILL);
      auto it = by_tensor.find(group_path(k_groups[g], t.name));
      if (it == by_tensor.end())
        continue;
      for (const TensorPiece* p : it->second) {
        const int64_t n = rects_numel(p->rects);
        if (n == 0)
          continue;
        h5::Handle fs(H5_CHECK(H5Dget_space(dsets[d].get())), H5Sclose);
        select_rects(fs.get(), t, p->rects);
        h5::Handle ms = mem_space(n);
        if (g == 0 && bf16_params) {
          // Rounded here (nearest even); the checksum is of the rounded values.
          bf16_buf.resize(size_t(n));
          std::vector<float> rounded(static_cast<size_t>(n));
          for (int64_t k = 0; k < n; ++k) {
            bf16_buf[size_t(k)] = bf16(p->data[k]).bits;
            rounded[size_t(k)] = float(bf16(p->data[k]));
          }
          H5_CHECK(H5Dwrite(dsets[d].get(), bf16t.get(), ms.get(), fs.get(), H5P_DEFAULT, bf16_buf.data()));
          sums[d] += checksum_rects(rounded.data(), p->rects, t.cols);
        } else {
          H5_CHECK(H5Dwrite(dsets[d].get(), H5T_NATIVE_FLOAT, ms.get(), fs.get(), H5P_DEFAULT, p->data));
          sums[d] += checksum_rects(p->data, p->rects, t.cols);
        }
      }
    }
  }
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, sums.data(), int(sums.size()), MPI_UINT64_T, MPI_SUM, comm));
  for (size_t d = 0; d < dsets.size(); ++d)
    h5::write_attr_u64(dsets[d].get(), "checksum", sums[d]);
  dsets.clear();
  H5_CHECK(H5Fflush(file.get(), H5F_SCOPE_GLOBAL));
}

namespace {

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

} // namespace

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  GLM3D_USAGE_CHECK(std::filesystem::is_regular_file(path)) << "checkpoint " << path << " does not exist";
  auto lock = h5::library_lock();
  h5::Handle f;
  try {
    f = h5::Handle(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "checkpoint " << path << " cannot be opened (truncated or not HDF5?): " << e.what();
  }
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
    m.glm3d_version = r.str(f.get(), "glm3d_version");
    m.kind = r.str(f.get(), "kind");
    m.step = r.i64(f.get(), "step");
    m.skipped_steps = r.i64(f.get(), "skipped_steps");
    m.next_sample = r.i64(f.get(), "next_sample");
    m.global_batch = r.i64(f.get(), "global_batch");
    m.seed = r.u64(f.get(), "seed");
    m.lr_max = r.f64(f.get(), "lr_max");
    m.lr_min = r.f64(f.get(), "lr_min");
    m.warmup_steps = r.i64(f.get(), "lr_warmup_steps");
    m.decay_steps = r.i64(f.get(), "lr_decay_steps");
    m.beta1 = r.f64(f.get(), "adam_beta1");
    m.beta2 = r.f64(f.get(), "adam_beta2");
    m.eps = r.f64(f.get(), "adam_eps");
    m.weight_decay = r.f64(f.get(), "weight_decay");
    if (h5::has_attr(f.get(), "micro_batch"))
      m.micro_batch = h5::read_attr_i64(f.get(), "micro_batch");
    if (h5::has_attr(f.get(), "clip_grad"))
      m.clip_grad = h5::read_attr_f64(f.get(), "clip_grad");
    m.has_optimizer_state = r.i64(f.get(), "has_optimizer_state") != 0;
    m.tp = int(r.i64(f.get(), "layout_tp"));
    m.pp = int(r.i64(f.get(), "layout_pp"));
    m.dp = int(r.i64(f.get(), "layout_dp"));
    m.virtual_stages = int(r.i64(f.get(), "layout_virtual_stages"));
    m.zero = int(r.i64(f.get(), "layout_zero"));
    m.tokenizer_sha256 = r.str(f.get(), "tokenizer_sha256");
    m.param_dtype = r.str(f.get(), "param_dtype");
    GLM3D_USAGE_CHECK(H5_CHECK(H5Lexists(f.get(), "config", H5P_DEFAULT)) > 0)
        << "checkpoint " << path << ": missing group 'config'";
    h5::Handle g(H5_CHECK(H5Gopen2(f.get(), "config", H5P_DEFAULT)), H5Gclose);
    ModelConfig& c = m.cfg;
    c.name = r.str(g.get(), "name");
    c.num_layers = r.i64(g.get(), "num_layers");
    c.hidden = r.i64(g.get(), "hidden");
    c.num_heads = r.i64(g.get(), "num_heads");
    c.ffn_hidden = r.i64(g.get(), "ffn_hidden");
    c.vocab = r.i64(g.get(), "vocab");
    c.seq_len = r.i64(g.get(), "seq_len");
    const std::string ffn = r.str(g.get(), "ffn"), rope = r.str(g.get(), "rope");
    GLM3D_USAGE_CHECK(ffn == "gelu" || ffn == "geglu")
        << "checkpoint " << path << ": config ffn '" << ffn << "'";
    GLM3D_USAGE_CHECK(rope == "1d" || rope == "2d")
        << "checkpoint " << path << ": config rope '" << rope << "'";
    c.ffn = ffn == "geglu" ? FfnKind::geglu : FfnKind::gelu;
    c.rope = rope == "2d" ? RopeKind::two_d : RopeKind::one_d;
    c.rope_base = r.f64(g.get(), "rope_base");
    c.ln_eps = r.f64(g.get(), "ln_eps");
    c.init_std = r.f64(g.get(), "init_std");
    c.lr = r.f64(g.get(), "lr");
    try {
      validate(c);
    } catch (const UsageError& e) {
      GLM3D_USAGE_FAIL() << "checkpoint " << path << ": " << e.what();
    }
    // Every tensor is in the file (parallel HDF5 allocates a dataset's storage when it creates
    // it), at 2 bytes a parameter at least (bf16): a config larger than the file is damage, and
    // the readers would walk and allocate for tensors that cannot be there.
    const uint64_t file_bytes = std::filesystem::file_size(path);
    GLM3D_USAGE_CHECK(2.0 * double(parameter_count(c)) <= double(file_bytes))
        << "checkpoint " << path << ": its config has " << parameter_count(c)
        << " parameters, more than the file's " << file_bytes << " bytes can hold";
    if (H5_CHECK(H5Lexists(f.get(), "special_tokens", H5P_DEFAULT)) > 0) {
      h5::Handle s(H5_CHECK(H5Gopen2(f.get(), "special_tokens", H5P_DEFAULT)), H5Gclose);
      H5O_info_t info;
      H5_CHECK(H5Oget_info2(s.get(), &info, H5O_INFO_NUM_ATTRS));
      for (hsize_t i = 0; i < info.num_attrs; ++i) {
        char name[256] = {0};
        H5_CHECK(
            H5Aget_name_by_idx(s.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT));
        m.special_tokens[name] = h5::read_attr_i64(s.get(), name);
      }
    }
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "checkpoint " << path << " is unreadable: " << e.what();
  }
  return m;
}

void read_checkpoint_file(const std::string& path, MPI_Comm comm, const CheckpointMeta& meta,
                          std::vector<TensorPiece>& pieces) {
  auto lock = h5::library_lock();
  h5::Handle fapl = mpio_fapl(comm);
  h5::Handle file;
  try {
    file = h5::Handle(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get())), H5Fclose);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "checkpoint " << path << " cannot be opened (truncated or not HDF5?): " << e.what();
  }
  const std::vector<CkptTensor> tensors = checkpoint_tensors(meta.cfg);
  bool want_adam = false;
  for (const TensorPiece& p : pieces)
    want_adam |= p.group != "params";
  int any_adam = want_adam ? 1 : 0;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &any_adam, 1, MPI_INT, MPI_MAX, comm));
  GLM3D_USAGE_CHECK(!any_adam || meta.has_optimizer_state)
      << "checkpoint " << path << " holds no optimizer state (kind '" << meta.kind << "')";
  const int num_groups = any_adam ? 3 : 1;

  // Every rank checks every dataset, so a bad file fails on all ranks alike.
  std::map<std::string, size_t> index;
  std::vector<h5::Handle> dsets;
  std::vector<uint64_t> stored;
  for (int g = 0; g < num_groups; ++g) {
    for (const CkptTensor& t : tensors) {
      const std::string name = group_path(k_groups[g], t.name);
      try {
        GLM3D_USAGE_CHECK(H5_CHECK(H5Lexists(file.get(), k_groups[g], H5P_DEFAULT)) > 0 &&
                          H5_CHECK(H5Lexists(file.get(), name.c_str(), H5P_DEFAULT)) > 0)
            << "checkpoint " << path << ": missing tensor '" << name << "'";
        h5::Handle d(H5_CHECK(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT)), H5Dclose);
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
        GLM3D_USAGE_CHECK(h5::has_attr(d.get(), "checksum"))
            << "checkpoint " << path << ": tensor '" << name << "' has no checksum (incomplete write?)";
        stored.push_back(h5::read_attr_u64(d.get(), "checksum"));
        index[name] = dsets.size();
        dsets.push_back(std::move(d));
      } catch (const Error& e) {
        GLM3D_USAGE_FAIL() << "checkpoint " << path << ": tensor '" << name
                           << "' is unreadable: " << e.what();
      }
    }
  }
  std::vector<uint64_t> sums(dsets.size(), 0);
  for (TensorPiece& p : pieces) {
    const std::string name = group_path(p.group, p.name);
    const auto it = index.find(name);
    GLM3D_CHECK(it != index.end()) << "no tensor " << name << " in the config";
    const int64_t n = rects_numel(p.rects);
    if (n == 0)
      continue;
    const CkptTensor& t = tensors[it->second % tensors.size()];
    h5::Handle fs(H5_CHECK(H5Dget_space(dsets[it->second].get())), H5Sclose);
    select_rects(fs.get(), t, p.rects);
    h5::Handle ms = mem_space(n);
    H5_CHECK(H5Dread(dsets[it->second].get(), H5T_NATIVE_FLOAT, ms.get(), fs.get(), H5P_DEFAULT, p.data));
    if (p.counts)
      sums[it->second] += checksum_rects(p.data, p.rects, t.cols);
  }
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, sums.data(), int(sums.size()), MPI_UINT64_T, MPI_SUM, comm));
  for (const auto& [name, d] : index)
    GLM3D_USAGE_CHECK(sums[d] == stored[d])
        << "checkpoint " << path << ": tensor '" << name << "' fails its checksum (stored " << hex(stored[d])
        << ", data " << hex(sums[d]) << "): the file is corrupted";
}

} // namespace glm3d
