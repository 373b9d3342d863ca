#include "data/sample_file.h"

#include "data/h5_attr.h"
#include "data/h5_check.h"
#include "data/h5_extent.h"
#include "data/h5_format.h"
#include "data/h5_object_header.h"

#include <unistd.h>

#include <filesystem>

namespace glm3d {

namespace {
// Copies one per-position field of every sample into a row-major [N, S] int32 matrix.
template <class Get> std::vector<int32_t> gather(const std::vector<Sample>& samples, size_t S, Get get) {
  std::vector<int32_t> m(samples.size() * S);
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& v = get(samples[i]);
    GLM3D_CHECK(v.size() == S) << "samples of different lengths (" << v.size() << " vs " << S << ")";
    std::copy(v.begin(), v.end(), m.begin() + ptrdiff_t(i * S));
  }
  return m;
}

void write_matrix(hid_t file, const char* name, const std::vector<int32_t>& data, hsize_t rows,
                  hsize_t cols) {
  const hsize_t dims[2] = {rows, cols};
  h5::Handle space(H5_CHECK(H5Screate_simple(cols ? 2 : 1, dims, nullptr)), H5Sclose);
  h5::Handle d(
      H5_CHECK(H5Dcreate2(file, name, H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
      H5Dclose);
  if (!data.empty())
    H5_CHECK(H5Dwrite(d.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()));
}

// [rows, cols] (cols 0 for a 1-D dataset) of dataset `name`; UsageError unless it is 1-D / 2-D
// and its file can hold it (h5_extent.h).
std::pair<hsize_t, hsize_t> dataset_dims(hid_t file, const char* name, const std::string& path) {
  GLM3D_USAGE_CHECK(H5_CHECK(H5Lexists(file, name, H5P_DEFAULT)) > 0)
      << "sample file " << path << " has no dataset '" << name << "'";
  h5::Handle d(H5_CHECK(H5Dopen2(file, name, H5P_DEFAULT)), H5Dclose);
  const std::vector<uint64_t> dims =
      h5::dataset_extent(d.get(), 1, 2, "sample file " + path + ": dataset " + name);
  return {dims[0], dims.size() == 2 ? dims[1] : 0};
}

std::vector<int32_t> read_matrix(hid_t file, const char* name, hsize_t rows, hsize_t cols,
                                 const std::string& path) {
  const auto [r, c] = dataset_dims(file, name, path);
  GLM3D_USAGE_CHECK(r == rows && c == cols)
      << "sample file " << path << ": dataset " << name << " is [" << r << (c ? ", " + std::to_string(c) : "")
      << "], tokens makes it [" << rows << (cols ? ", " + std::to_string(cols) : "") << "]";
  h5::Handle d(H5_CHECK(H5Dopen2(file, name, H5P_DEFAULT)), H5Dclose);
  std::vector<int32_t> out(size_t(rows * (cols ? cols : 1)));
  if (!out.empty())
    H5_CHECK(H5Dread(d.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()));
  return out;
}
} // namespace

void write_sample_file(const std::string& path, const std::vector<Sample>& samples,
                       const std::map<std::string, std::string>& attrs) {
  const hsize_t n = samples.size();
  const hsize_t S = n ? samples[0].tokens.size() : 0;
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    auto lock = h5::library_lock();
    h5::Handle f;
    try {
      f = h5::Handle(
          H5_CHECK(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, h5::checksummed_fapl().get())),
          H5Fclose);
    } catch (const Error& e) {
      GLM3D_USAGE_FAIL() << "cannot create sample file " << tmp << ": " << e.what();
    }
    write_matrix(f.get(), "tokens",
                 gather(
                     samples, S, [](const Sample& s) -> auto& { return s.tokens; }),
                 n, S);
    write_matrix(f.get(), "position_ids",
                 gather(
                     samples, S, [](const Sample& s) -> auto& { return s.position_ids; }),
                 n, S);
    write_matrix(f.get(), "block_position_ids",
                 gather(
                     samples, S, [](const Sample& s) -> auto& { return s.block_position_ids; }),
                 n, S);
    write_matrix(f.get(), "targets",
                 gather(
                     samples, S, [](const Sample& s) -> auto& { return s.targets; }),
                 n, S);
    write_matrix(f.get(), "loss_mask",
                 gather(
                     samples, S, [](const Sample& s) -> auto& { return s.loss_mask; }),
                 n, S);
    std::vector<int32_t> sep(n), kind(n);
    for (hsize_t i = 0; i < n; ++i)
      sep[i] = samples[i].sep, kind[i] = samples[i].kind;
    write_matrix(f.get(), "sep", sep, n, 0);
    write_matrix(f.get(), "kind", kind, n, 0);
    h5::write_attr_i64(f.get(), "format_version", k_sample_file_version);
    h5::write_attr_i64(f.get(), "seq_len", int64_t(S));
    for (const auto& [k, v] : attrs)
      h5::write_attr_str(f.get(), k, v);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  GLM3D_USAGE_CHECK(!ec) << "cannot rename " << tmp << " to " << path << ": " << ec.message();
}

namespace {
// The file opened after the header checks (data/h5_object_header.h), their refusals naming it.
h5::Handle open_checked(const std::string& path) {
  try {
    return h5::open_untrusted(path);
  } catch (const UsageError& e) {
    GLM3D_USAGE_FAIL() << "sample file " << path << " is damaged: " << e.what();
  }
}
} // namespace

std::vector<Sample> read_sample_file(const std::string& path) {
  GLM3D_USAGE_CHECK(std::filesystem::exists(path)) << "sample file " << path << " does not exist";
  auto lock = h5::library_lock();
  try {
    h5::Handle f = open_checked(path);
    // The shapes give N and S: tokens [N, S]; the attributes are not needed.
    const auto dims = dataset_dims(f.get(), "tokens", path); // (no structured binding: clang 14
    const hsize_t n = dims.first, S = dims.second;           // cannot capture one in a lambda)
    GLM3D_USAGE_CHECK(S > 0) << "sample file " << path << ": dataset tokens must be [N, seq_len], it is 1-D";
    std::vector<Sample> out(n);
    auto scatter = [&](const char* name, auto field) {
      const std::vector<int32_t> m = read_matrix(f.get(), name, n, S, path); // [N, S]
      for (hsize_t i = 0; i < n; ++i) {
        const auto row = m.begin() + ptrdiff_t(i * S);
        field(out[i]).assign(row, row + ptrdiff_t(S));
      }
    };
    scatter(
        "tokens", [](Sample & s) -> auto& { return s.tokens; });
    scatter(
        "position_ids", [](Sample & s) -> auto& { return s.position_ids; });
    scatter(
        "block_position_ids", [](Sample & s) -> auto& { return s.block_position_ids; });
    scatter(
        "targets", [](Sample & s) -> auto& { return s.targets; });
    const std::vector<int32_t> mask = read_matrix(f.get(), "loss_mask", n, S, path); // [N, S]
    for (size_t j = 0; j < mask.size(); ++j) {
      GLM3D_USAGE_CHECK(mask[j] == 0 || mask[j] == 1)
          << "sample file " << path << ": sample " << j / S << " has loss_mask " << mask[j] << " at position "
          << j % S << " (0 or 1 expected)";
      out[j / S].loss_mask.push_back(uint8_t(mask[j]));
    }
    const auto sep = read_matrix(f.get(), "sep", n, 0, path);
    const bool has_kind = H5_CHECK(H5Lexists(f.get(), "kind", H5P_DEFAULT)) > 0;
    const auto kind = has_kind ? read_matrix(f.get(), "kind", n, 0, path) : std::vector<int32_t>(n, -1);
    for (hsize_t i = 0; i < n; ++i) {
      GLM3D_USAGE_CHECK(sep[i] >= 0 && hsize_t(sep[i]) <= S)
          << "sample file " << path << ": sample " << i << " has sep " << sep[i] << " outside [0, " << S
          << "]";
      out[i].sep = sep[i], out[i].kind = kind[i];
    }
    return out;
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "sample file " << path << " is not a glm3d sample file: " << e.what();
  }
}

} // namespace glm3d
