#include "data/sft_store.h"

#include "data/checksum.h"
#include "data/h5_attr.h"
#include "data/h5_check.h"
#include "data/h5_format.h"
#include "data/h5_object_header.h"
#include "data/prep_output.h"
#include "data/sft_causal.h"

#include <algorithm>
#include <filesystem>

namespace glm3d {

namespace fs = std::filesystem;

namespace {

constexpr hsize_t k_rows_per_chunk = 64, k_block_rows = 4096;

// Per example: the [S] rows, then the scalars.
const char* const k_row_sets[] = {"input_ids", "labels", "position_ids", "block_position_ids"};
const char* const k_i32_sets[] = {"sep", "mask_position", "length", "source_file"};
const char* const k_line_set = "source_line";

h5::Handle create_dataset(hid_t file, const char* name, hid_t type, hsize_t n, hsize_t S) {
  const int rank = S ? 2 : 1;
  const hsize_t dims[2] = {n, S}, chunk[2] = {std::min<hsize_t>(n, S ? k_rows_per_chunk : 8192), S};
  h5::Handle space(H5_CHECK(H5Screate_simple(rank, dims, nullptr)), H5Sclose);
  h5::Handle dcpl(H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)), H5Pclose);
  H5_CHECK(H5Pset_chunk(dcpl.get(), rank, chunk));
  H5_CHECK(H5Pset_shuffle(dcpl.get()));
  H5_CHECK(H5Pset_deflate(dcpl.get(), 4));
  H5_CHECK(H5Pset_fletcher32(dcpl.get())); // checked by HDF5 on every chunk read
  return h5::Handle(H5_CHECK(H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT)),
                    H5Dclose);
}

// Rows [r0, r0 + count) of a 1-D or 2-D dataset (S = 0: 1-D).
void rows_io(hid_t d, hid_t mem_type, hsize_t r0, hsize_t count, hsize_t S, void* buf, bool write) {
  auto lock = h5::library_lock();
  const int rank = S ? 2 : 1;
  const hsize_t off[2] = {r0, 0}, cnt[2] = {count, S};
  h5::Handle fs(H5_CHECK(H5Dget_space(d)), H5Sclose);
  H5_CHECK(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, off, nullptr, cnt, nullptr));
  h5::Handle ms(H5_CHECK(H5Screate_simple(rank, cnt, nullptr)), H5Sclose);
  if (write)
    H5_CHECK(H5Dwrite(d, mem_type, ms.get(), fs.get(), H5P_DEFAULT, buf));
  else
    H5_CHECK(H5Dread(d, mem_type, ms.get(), fs.get(), H5P_DEFAULT, buf));
}

std::vector<hsize_t> dims_of(hid_t d) {
  h5::Handle space(H5_CHECK(H5Dget_space(d)), H5Sclose);
  const int nd = H5_CHECK(H5Sget_simple_extent_ndims(space.get()));
  std::vector<hsize_t> dims(size_t(std::max(nd, 0)));
  H5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
  return dims;
}

// The datasets of one split, in the order k_row_sets, k_i32_sets, k_line_set (the crc order).
struct Datasets {
  std::vector<h5::Handle> rows, scalars;
  h5::Handle lines;
};

// Rows [b0, b0 + n) of every dataset of a split, in memory.
struct Block {
  int64_t n, S;
  std::vector<std::vector<int32_t>> rows, scalars;
  std::vector<int64_t> lines;
  Block(int64_t n_, int64_t S_)
      : n(n_), S(S_), rows(4, std::vector<int32_t>(size_t(n_ * S_))),
        scalars(4, std::vector<int32_t>(size_t(n_))), lines(size_t(n_)) {}
  void set(int64_t i, const SftRow& r) {
    const std::vector<int32_t>* v[4] = {&r.input_ids, &r.labels, &r.position_ids, &r.block_position_ids};
    for (int k = 0; k < 4; ++k) {
      GLM3D_CHECK(int64_t(v[k]->size()) == S) << "SFT row of " << v[k]->size() << " tokens, expected " << S;
      std::copy(v[k]->begin(), v[k]->end(), rows[size_t(k)].begin() + i * S);
    }
    const int32_t sc[4] = {r.sep, r.mask_position, r.length, r.source_file};
    for (int k = 0; k < 4; ++k)
      scalars[size_t(k)][size_t(i)] = sc[k];
    lines[size_t(i)] = r.source_line;
  }
  SftRow get(int64_t i) const {
    SftRow r;
    std::vector<int32_t>* v[4] = {&r.input_ids, &r.labels, &r.position_ids, &r.block_position_ids};
    for (int k = 0; k < 4; ++k)
      v[k]->assign(rows[size_t(k)].begin() + i * S, rows[size_t(k)].begin() + (i + 1) * S);
    r.sep = scalars[0][size_t(i)], r.mask_position = scalars[1][size_t(i)], r.length = scalars[2][size_t(i)];
    r.source_file = scalars[3][size_t(i)], r.source_line = lines[size_t(i)];
    return r;
  }
};

// Reads or writes the block at row b0 of every dataset, updating each dataset's CRC-32.
void block_io(const Datasets& d, int64_t b0, Block& b, bool write, uint32_t crc[9]) {
  for (int k = 0; k < 4; ++k) {
    rows_io(d.rows[size_t(k)].get(), H5T_NATIVE_INT32, hsize_t(b0), hsize_t(b.n), hsize_t(b.S),
            b.rows[size_t(k)].data(), write);
    crc[k] = crc32(b.rows[size_t(k)].data(), b.rows[size_t(k)].size() * 4, crc[k]);
    rows_io(d.scalars[size_t(k)].get(), H5T_NATIVE_INT32, hsize_t(b0), hsize_t(b.n), 0,
            b.scalars[size_t(k)].data(), write);
    crc[4 + k] = crc32(b.scalars[size_t(k)].data(), b.scalars[size_t(k)].size() * 4, crc[4 + k]);
  }
  rows_io(d.lines.get(), H5T_NATIVE_INT64, hsize_t(b0), hsize_t(b.n), 0, b.lines.data(), write);
  crc[8] = crc32(b.lines.data(), b.lines.size() * 8, crc[8]);
}

const char* dataset_name(int k) {
  return k < 4 ? k_row_sets[k] : k < 8 ? k_i32_sets[k - 4] : k_line_set;
}

} // namespace

SftSplitInfo write_sft_split(const std::string& dir, const std::string& name, int64_t n, int64_t S,
                             const std::function<SftRow(int64_t)>& row_of, const SftManifest& m) {
  GLM3D_CHECK(n >= 1 && S >= 3) << "SFT split " << name << " of " << n << " examples of " << S << " tokens";
  SftSplitInfo info;
  info.name = name;
  info.file = name + ".h5";
  const std::string path = (fs::path(dir) / info.file).string();
  h5::Handle f(H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, h5::checksummed_fapl().get())),
               H5Fclose);
  Datasets d;
  for (const char* ds : k_row_sets)
    d.rows.push_back(create_dataset(f.get(), ds, H5T_STD_I32LE, hsize_t(n), hsize_t(S)));
  for (const char* ds : k_i32_sets)
    d.scalars.push_back(create_dataset(f.get(), ds, H5T_STD_I32LE, hsize_t(n), 0));
  d.lines = create_dataset(f.get(), k_line_set, H5T_STD_I64LE, hsize_t(n), 0);
  uint32_t crc[9] = {0};
  for (int64_t b0 = 0; b0 < n; b0 += int64_t(k_block_rows)) {
    Block b(std::min<int64_t>(int64_t(k_block_rows), n - b0), S);
    for (int64_t i = 0; i < b.n; ++i)
      b.set(i, row_of(b0 + i));
    block_io(d, b0, b, true, crc);
  }
  for (int k = 0; k < 9; ++k) {
    info.crc32[dataset_name(k)] = crc[k];
    h5::write_attr_u64(k < 4   ? d.rows[size_t(k)].get()
                       : k < 8 ? d.scalars[size_t(k - 4)].get()
                               : d.lines.get(),
                       "crc32", crc[k]);
  }
  info.examples = n;
  h5::write_attr_i64(f.get(), "format_version", k_sft_format_version);
  h5::write_attr_str(f.get(), "split", name);
  h5::write_attr_i64(f.get(), "n_examples", n);
  h5::write_attr_i64(f.get(), "seq_len", S);
  h5::write_attr_i64(f.get(), "vocab_size", m.vocab_size);
  h5::write_attr_str(f.get(), "tokenizer_sha256", m.tokenizer_sha256);
  H5_CHECK(H5Fflush(f.get(), H5F_SCOPE_LOCAL));
  return info;
}

// ------------------------------------------------------------------------------------ reader

struct SftStore::Split {
  std::string name, path;
  int64_t n = 0, S = 0;
  h5::Handle file;
  Datasets d;
};

SftStore::SftStore(SftStore&&) noexcept = default;
SftStore::~SftStore() = default;

namespace {

h5::Handle open_dataset(hid_t f, const char* name, const std::string& path, hsize_t n, hsize_t S) {
  GLM3D_USAGE_CHECK(H5_CHECK(H5Lexists(f, name, H5P_DEFAULT)) > 0)
      << "SFT store file " << path << " has no dataset '" << name << "'";
  h5::Handle d(H5_CHECK(H5Dopen2(f, name, H5P_DEFAULT)), H5Dclose);
  const std::vector<hsize_t> dims = dims_of(d.get());
  const std::vector<hsize_t> want = S ? std::vector<hsize_t>{n, S} : std::vector<hsize_t>{n};
  GLM3D_USAGE_CHECK(dims == want) << "SFT store file " << path << ": dataset " << name
                                  << " has the wrong shape (" << (dims.empty() ? 0 : dims[0])
                                  << " rows; the manifest says " << n << " of " << (S ? S : 1) << ")";
  return d;
}

} // namespace

SftStore SftStore::open(const std::string& dir) {
  SftStore s;
  s.dir_ = dir;
  s.m_ = read_sft_manifest(dir);
  TokenizerFiles files;
  for (const std::string& name : s.m_.tokenizer_files)
    files.emplace_back(name, read_file_bytes((fs::path(dir) / name).string(), "SFT store tokenizer file"));
  s.tokenizer_ = text_tokenizer_from_files(s.m_.tokenizer_kind, files, dir);
  GLM3D_USAGE_CHECK(s.tokenizer_->sha256() == s.m_.tokenizer_sha256 &&
                    s.tokenizer_->vocab_size() == s.m_.vocab_size)
      << "SFT store " << dir << ": its tokenizer files have sha256 " << s.tokenizer_->sha256() << " and "
      << s.tokenizer_->vocab_size() << " tokens, the manifest says " << s.m_.tokenizer_sha256 << " and "
      << s.m_.vocab_size;
  for (const SftSplitInfo& info : s.m_.splits) {
    auto sp = std::make_unique<Split>();
    sp->name = info.name;
    sp->path = (fs::path(dir) / info.file).string();
    sp->n = info.examples;
    sp->S = s.m_.seq_len;
    GLM3D_USAGE_CHECK(fs::is_regular_file(sp->path)) << "SFT store file " << sp->path << " is missing";
    try {
      sp->file = h5::open_untrusted(sp->path);
      const hid_t f = sp->file.get();
      GLM3D_USAGE_CHECK(h5::read_attr_i64(f, "n_examples") == sp->n &&
                        h5::read_attr_i64(f, "seq_len") == sp->S &&
                        h5::read_attr_str(f, "tokenizer_sha256") == s.m_.tokenizer_sha256)
          << "SFT store file " << sp->path << " does not match the manifest (examples, seq_len or tokenizer)";
      for (const char* ds : k_row_sets)
        sp->d.rows.push_back(open_dataset(f, ds, sp->path, hsize_t(sp->n), hsize_t(sp->S)));
      for (const char* ds : k_i32_sets)
        sp->d.scalars.push_back(open_dataset(f, ds, sp->path, hsize_t(sp->n), 0));
      sp->d.lines = open_dataset(f, k_line_set, sp->path, hsize_t(sp->n), 0);
    } catch (const Error& e) {
      GLM3D_USAGE_FAIL() << "SFT store file " << sp->path
                         << " cannot be opened (not HDF5, truncated or damaged): " << e.what();
    }
    s.splits_.push_back(std::move(sp));
  }
  return s;
}

const SftStore::Split& SftStore::split_of(const std::string& name) const {
  for (const auto& sp : splits_)
    if (sp->name == name)
      return *sp;
  GLM3D_USAGE_FAIL() << "SFT store " << dir_ << " has no " << name << " split"
                     << (name == "valid" ? " (glm3d prep sft --valid-fraction holds one out)" : "");
}

int64_t SftStore::examples(const std::string& split) const {
  return split_of(split).n;
}

SftRow SftStore::read(const std::string& split, int64_t i) const {
  const Split& sp = split_of(split);
  GLM3D_CHECK(i >= 0 && i < sp.n) << "example " << i << " outside the " << sp.n << " of split " << split;
  Block b(1, sp.S);
  uint32_t crc[9] = {0};
  try {
    block_io(sp.d, i, b, false, crc);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "SFT store file " << sp.path << ": reading example " << i
                       << " failed (corrupted or truncated file; chunk checksum): " << e.what();
  }
  const SftRow r = b.get(0);
  GLM3D_USAGE_CHECK(r.sep >= (m_.causal() ? 0 : 1) && r.sep < sp.S && r.mask_position >= 0 &&
                    r.mask_position < sp.S)
      << "SFT store file " << sp.path << ": example " << i << " has sep " << r.sep << " and mask position "
      << r.mask_position << " outside [0, " << sp.S << ")";
  for (int32_t t : r.input_ids)
    GLM3D_USAGE_CHECK(t >= 0 && t < m_.vocab_size)
        << "SFT store file " << sp.path << ": example " << i << " holds token id " << t
        << ", outside the vocabulary of " << m_.vocab_size;
  return r;
}

// ------------------------------------------------------------------------------------ verify

namespace {

// "" when row i follows data/sft_example.h's layout, else what breaks it.
std::string layout_problem(const SftRow& r, int64_t S, int64_t vocab, const SpecialTokens& sp) {
  const auto first = [&](int32_t id) {
    return int32_t(std::find(r.input_ids.begin(), r.input_ids.end(), id) - r.input_ids.begin());
  };
  for (int32_t t : r.input_ids)
    if (t < 0 || t >= vocab)
      return "token id " + std::to_string(t) + " outside the vocabulary of " + std::to_string(vocab);
  if (r.sep != first(sp.sop) || r.mask_position != first(sp.gmask) || r.sep >= S)
    return "sep " + std::to_string(r.sep) + " / mask position " + std::to_string(r.mask_position) +
           " are not the first <sop> / [gMASK]";
  if (r.length <= r.sep || r.length > S)
    return "length " + std::to_string(r.length) + " outside (sep, seq_len]";
  for (int64_t i = 0; i < S; ++i) {
    const int32_t t = r.input_ids[size_t(i)];
    const bool b = i >= r.sep, real = i < r.length;
    const int32_t label = b && real && t != sp.pad ? t : k_ignore_label;
    if ((!real && t != sp.pad) || r.labels[size_t(i)] != label ||
        r.position_ids[size_t(i)] != (b ? r.mask_position : int32_t(i)) ||
        r.block_position_ids[size_t(i)] != (b ? int32_t(i) - r.sep + 1 : 0))
      return "position " + std::to_string(i) + " (token, label or position ids)";
  }
  return "";
}

} // namespace

SftVerifyReport verify_sft_store(const std::string& dir) {
  const SftStore store = SftStore::open(dir);
  SftVerifyReport rep;
  for (const auto& sp : store.splits_) {
    const SftSplitInfo& info = *store.m_.split(sp->name);
    const int64_t S = sp->S;
    uint32_t crc[9] = {0};
    try {
      for (int64_t b0 = 0; b0 < sp->n; b0 += int64_t(k_block_rows)) {
        Block b(std::min<int64_t>(int64_t(k_block_rows), sp->n - b0), S);
        block_io(sp->d, b0, b, false, crc);
        for (int64_t i = 0; i < b.n; ++i) {
          const SftRow row = b.get(i);
          const std::string bad = store.m_.causal()
                                      ? causal_layout_problem(row, S, store.m_.vocab_size, store.m_.special)
                                      : layout_problem(row, S, store.m_.vocab_size, store.m_.special);
          GLM3D_USAGE_CHECK(bad.empty())
              << "SFT store file " << sp->path << ": example " << b0 + i << " breaks the layout at " << bad;
        }
      }
    } catch (const Error& e) {
      GLM3D_USAGE_FAIL() << "SFT store file " << sp->path << " is damaged: " << e.what();
    }
    for (int k = 0; k < 9; ++k) {
      const auto it = info.crc32.find(dataset_name(k));
      GLM3D_USAGE_CHECK(it != info.crc32.end() && it->second == crc[k])
          << "SFT store file " << sp->path << ": dataset " << dataset_name(k) << " has crc32 " << crc[k]
          << ", the manifest records "
          << (it == info.crc32.end() ? std::string("none") : std::to_string(it->second));
    }
    rep.splits += 1;
    rep.examples += sp->n;
  }
  return rep;
}

} // namespace glm3d
