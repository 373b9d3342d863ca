#include "model/safetensors.h"

#include "core/check.h"
#include "core/checked_int.h"
#include "core/dtype.h"
#include "core/json_error.h"
#include "core/tensor.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace glm3d {

StDtype parse_st_dtype(const std::string& s) {
  if (s == "F16")
    return StDtype::f16;
  if (s == "BF16")
    return StDtype::bf16;
  if (s == "F32")
    return StDtype::f32;
  if (s == "I8")
    return StDtype::i8;
  GLM3D_USAGE_FAIL() << "unsupported safetensors dtype '" << s << "' (F16, BF16, F32 or I8)";
}

std::string st_dtype_name(StDtype d) {
  switch (d) {
  case StDtype::f16:
    return "F16";
  case StDtype::bf16:
    return "BF16";
  case StDtype::f32:
    return "F32";
  case StDtype::i8:
    return "I8";
  }
  return "?";
}

namespace {
size_t st_size(StDtype d) {
  return d == StDtype::f32 ? 4 : d == StDtype::i8 ? 1 : 2;
}

// One header entry: {"dtype": "F16", "shape": [rows, cols], "data_offsets": [begin, end]}.
StTensorInfo tensor_info(const nlohmann::json& v, uint64_t data_size) {
  const auto dt = v.find("dtype"), shape = v.find("shape"), off = v.find("data_offsets");
  GLM3D_USAGE_CHECK(v.is_object() && dt != v.end() && shape != v.end() && off != v.end())
      << "missing dtype, shape or data_offsets";
  GLM3D_USAGE_CHECK(dt->is_string() && shape->is_array() && off->is_array() && off->size() == 2)
      << "dtype must be a string, shape an array and data_offsets an array of two";
  auto count = [](const nlohmann::json& x) {
    GLM3D_USAGE_CHECK(x.is_number_unsigned()) << "expected a non-negative integer, got " << x.dump();
    return x.get<uint64_t>();
  };
  StTensorInfo t;
  t.dtype = parse_st_dtype(dt->get<std::string>());
  // The element count as numel() will compute it (int64, left to right), checked: the shape is
  // the file's, and only a count whose bytes the data holds is accepted.
  std::optional<int64_t> numel = 1;
  for (const nlohmann::json& d : *shape) {
    const uint64_t n = count(d);
    numel = numel && n <= uint64_t(INT64_MAX) ? checked_mul(*numel, int64_t(n)) : std::nullopt;
    t.shape.push_back(int64_t(n));
  }
  t.begin = count((*off)[0]);
  t.end = count((*off)[1]);
  GLM3D_USAGE_CHECK(t.begin <= t.end && t.end <= data_size)
      << "data_offsets [" << t.begin << ", " << t.end << ") outside the " << data_size << " data bytes";
  const std::optional<uint64_t> bytes =
      numel ? checked_mul(uint64_t(*numel), uint64_t(st_size(t.dtype))) : std::nullopt;
  GLM3D_USAGE_CHECK(bytes && t.end - t.begin == *bytes)
      << "data_offsets span " << (t.end - t.begin) << " bytes, the shape needs "
      << (bytes ? std::to_string(*bytes) : std::string("more than 2^63"));
  return t;
}
} // namespace

int64_t StTensorInfo::numel() const {
  return numel_of(shape);
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t absx = x & 0x7fffffffu;
  if (absx > 0x7f800000u)
    return uint16_t(sign | 0x7e00u); // NaN
  if (absx >= 0x477ff000u)
    return uint16_t(sign | 0x7c00u); // rounds to >= 65520: inf
  if (absx < 0x38800000u) {          // below the smallest normal half: subnormal or zero
    if (absx < 0x33000000u)
      return uint16_t(sign); // < 2^-25: rounds to zero
    const uint32_t e = absx >> 23, m = (absx & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e; // 14..24 (mantissa bits dropped: shift - 0 from 24-bit m to 10-bit)
    uint32_t h = m >> (shift);
    const uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1u)))
      ++h;
    return uint16_t(sign | h);
  }
  uint32_t h = ((absx >> 13) - (112u << 10)); // rebias exponent 127 -> 15
  const uint32_t rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
    ++h;
  return uint16_t(sign | h);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  uint32_t x;
  if (e == 0) {
    if (m == 0)
      x = sign;
    else { // subnormal: normalise
      int shift = 0;
      uint32_t mm = m;
      while (!(mm & 0x400u))
        mm <<= 1, ++shift;
      x = sign | (uint32_t(113 - shift) << 23) | ((mm & 0x3ffu) << 13);
    }
  } else if (e == 31) {
    x = sign | 0x7f800000u | (m << 13);
  } else {
    x = sign | ((e + 112u) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
  GLM3D_USAGE_CHECK(in_) << "cannot open safetensors file " << path;
  const uint64_t file_size = std::filesystem::file_size(path);
  uint8_t len_bytes[8];
  in_.read(reinterpret_cast<char*>(len_bytes), 8);
  GLM3D_USAGE_CHECK(in_) << "safetensors file " << path << " is shorter than its 8-byte header length";
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | len_bytes[i];
  GLM3D_USAGE_CHECK(n <= file_size - 8 && n < (uint64_t(1) << 32))
      << "safetensors file " << path << ": header length " << n << " exceeds the file";
  std::string header(n, '\0');
  in_.read(header.data(), std::streamsize(n));
  data_start_ = 8 + n;
  const uint64_t data_size = file_size - data_start_;
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    GLM3D_USAGE_FAIL() << "safetensors file " << path << ": header is not valid JSON: " << json_error_text(e);
  }
  GLM3D_USAGE_CHECK(root.is_object()) << "safetensors file " << path << ": header is not a JSON object";
  for (const auto& [name, v] : root.items()) {
    if (name == "__metadata__")
      continue;
    try {
      tensors_[name] = tensor_info(v, data_size);
    } catch (const UsageError& e) {
      GLM3D_USAGE_FAIL() << "safetensors file " << path << ": tensor '" << name << "': " << e.what();
    }
  }
}

namespace {
// Elements converted per block when reading or writing tensor data (1 MiB of f32).
constexpr size_t k_block_elems = size_t(1) << 18;

// n elements of dtype d (little-endian) widened to f32.
void decode(StDtype d, const uint8_t* p, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i, p += st_size(d)) {
    if (d == StDtype::f32) {
      const uint32_t u = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
      std::memcpy(&out[i], &u, 4);
    } else {
      const uint16_t u = uint16_t(p[0] | p[1] << 8);
      if (d == StDtype::f16) {
        out[i] = half_to_float(u);
      } else {
        bf16 b;
        b.bits = u;
        out[i] = float(b);
      }
    }
  }
}

// n f32 values rounded (nearest even) to dtype d, little-endian.
void encode(StDtype d, const float* in, size_t n, uint8_t* p) {
  for (size_t i = 0; i < n; ++i, p += st_size(d)) {
    if (d == StDtype::f32) {
      uint32_t u;
      std::memcpy(&u, &in[i], 4);
      for (int k = 0; k < 4; ++k)
        p[k] = uint8_t(u >> (8 * k));
    } else {
      const uint16_t u = d == StDtype::f16 ? float_to_half(in[i]) : bf16(in[i]).bits;
      p[0] = uint8_t(u), p[1] = uint8_t(u >> 8);
    }
  }
}
} // namespace

std::vector<float> SafetensorsReader::read_f32(const std::string& name) {
  const auto it = tensors_.find(name);
  GLM3D_USAGE_CHECK(it != tensors_.end())
      << "safetensors file " << path_ << " has no tensor '" << name << "'";
  std::vector<float> out(size_t(it->second.numel()));
  read_f32(name, out.data(), 0, it->second.numel());
  return out;
}

std::vector<uint8_t> SafetensorsReader::read_raw(const std::string& name) {
  const auto it = tensors_.find(name);
  GLM3D_USAGE_CHECK(it != tensors_.end())
      << "safetensors file " << path_ << " has no tensor '" << name << "'";
  const StTensorInfo& t = it->second;
  std::vector<uint8_t> raw(t.end - t.begin);
  in_.clear();
  in_.seekg(std::streamoff(data_start_ + t.begin));
  in_.read(reinterpret_cast<char*>(raw.data()), std::streamsize(raw.size()));
  GLM3D_USAGE_CHECK(in_) << "safetensors file " << path_ << ": cannot read tensor '" << name << "'";
  return raw;
}

void SafetensorsReader::read_f32(const std::string& name, float* out, int64_t begin, int64_t count) {
  const auto it = tensors_.find(name);
  GLM3D_USAGE_CHECK(it != tensors_.end())
      << "safetensors file " << path_ << " has no tensor '" << name << "'";
  const StTensorInfo& t = it->second;
  GLM3D_USAGE_CHECK(t.dtype != StDtype::i8)
      << "safetensors file " << path_ << ": tensor '" << name << "' is I8 (quantized), not a float tensor";
  GLM3D_CHECK(begin >= 0 && count >= 0 && begin + count <= t.numel())
      << name << ": elements [" << begin << ", " << begin + count << ") of " << t.numel();
  const size_t es = st_size(t.dtype);
  std::vector<uint8_t> raw(std::min(size_t(count), k_block_elems) * es);
  in_.clear();
  in_.seekg(std::streamoff(data_start_ + t.begin + uint64_t(begin) * es));
  for (int64_t done = 0; done < count;) {
    const size_t n = std::min(size_t(count - done), k_block_elems);
    in_.read(reinterpret_cast<char*>(raw.data()), std::streamsize(n * es));
    GLM3D_USAGE_CHECK(in_) << "safetensors file " << path_ << ": cannot read tensor '" << name << "'";
    decode(t.dtype, raw.data(), n, out + done);
    done += int64_t(n);
  }
}

SafetensorsDir::SafetensorsDir(const std::string& dir) : dir_(dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".safetensors")
      files.push_back(e.path().string());
  GLM3D_USAGE_CHECK(!ec) << "cannot list " << dir << ": " << ec.message();
  std::sort(files.begin(), files.end());
  GLM3D_USAGE_CHECK(!files.empty()) << dir << " holds no *.safetensors files";
  for (const std::string& f : files) {
    readers_.push_back(std::make_unique<SafetensorsReader>(f));
    for (const auto& [name, info] : readers_.back()->tensors()) {
      GLM3D_USAGE_CHECK(!where_.count(name)) << "tensor '" << name << "' appears in two files of " << dir;
      where_[name] = readers_.back().get();
    }
  }
}

SafetensorsReader& SafetensorsDir::reader(const std::string& name) {
  const auto it = where_.find(name);
  GLM3D_USAGE_CHECK(it != where_.end()) << dir_ << ": missing tensor '" << name << "'";
  return *it->second;
}

void write_safetensors(const std::string& path, const std::vector<StTensorOut>& tensors, StDtype dtype,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<StTensorSpec> specs;
  for (const StTensorOut& t : tensors)
    specs.push_back({t.name, t.shape, t.raw ? t.raw_dtype : dtype});
  SafetensorsStreamWriter w(path, specs, metadata);
  for (const StTensorOut& t : tensors)
    if (t.raw)
      w.write_raw(t.name, t.raw);
    else
      w.write(t.name, t.data);
  w.finish();
}

SafetensorsStreamWriter::SafetensorsStreamWriter(const std::string& path, std::vector<StTensorSpec> specs,
                                                 const std::map<std::string, std::string>& metadata)
    : path_(path), tmp_(path + ".tmp"), specs_(std::move(specs)) {
  // Insertion order kept: metadata first, then the tensors in data order (as Hugging Face writes).
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty())
    h["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const StTensorSpec& t : specs_) {
    GLM3D_CHECK(!h.contains(t.name) && t.name != "__metadata__") << "tensor name '" << t.name << "' twice";
    const uint64_t bytes = uint64_t(numel_of(t.shape)) * st_size(t.dtype);
    h[t.name] = {
        {"dtype", st_dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header = h.dump();
  while (header.size() % 8)
    header += ' '; // data aligned to 8 bytes, as Hugging Face writes it
  out_.open(tmp_, std::ios::binary | std::ios::trunc);
  GLM3D_USAGE_CHECK(out_) << "cannot write " << tmp_;
  uint8_t len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
  out_.write(reinterpret_cast<const char*>(len), 8);
  out_.write(header.data(), std::streamsize(header.size()));
}

SafetensorsStreamWriter::~SafetensorsStreamWriter() {
  if (finished_)
    return;
  out_.close();
  std::error_code ec;
  std::filesystem::remove(tmp_, ec);
}

void SafetensorsStreamWriter::write(const std::string& name, const float* data) {
  GLM3D_CHECK(next_ < specs_.size() && specs_[next_].name == name)
      << "safetensors " << path_ << ": '" << name << "' written out of order";
  const StTensorSpec& t = specs_[next_++];
  const size_t n = size_t(numel_of(t.shape)), es = st_size(t.dtype);
  std::vector<uint8_t> buf(std::min(n, k_block_elems) * es);
  for (size_t done = 0; done < n;) {
    const size_t k = std::min(n - done, k_block_elems);
    encode(t.dtype, data + done, k, buf.data());
    out_.write(reinterpret_cast<const char*>(buf.data()), std::streamsize(k * es));
    done += k;
  }
  GLM3D_USAGE_CHECK(out_.good()) << "cannot write " << tmp_;
}

void SafetensorsStreamWriter::write_raw(const std::string& name, const void* bytes) {
  GLM3D_CHECK(next_ < specs_.size() && specs_[next_].name == name)
      << "safetensors " << path_ << ": '" << name << "' written out of order";
  const StTensorSpec& t = specs_[next_++];
  out_.write(static_cast<const char*>(bytes), std::streamsize(size_t(numel_of(t.shape)) * st_size(t.dtype)));
  GLM3D_USAGE_CHECK(out_.good()) << "cannot write " << tmp_;
}

void SafetensorsStreamWriter::finish() {
  GLM3D_CHECK(next_ == specs_.size())
      << "safetensors " << path_ << ": " << specs_.size() - next_ << " tensors never written";
  out_.close();
  GLM3D_USAGE_CHECK(!out_.fail()) << "cannot write " << tmp_;
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  GLM3D_USAGE_CHECK(!ec) << "cannot rename " << tmp_ << " to " << path_ << ": " << ec.message();
  finished_ = true;
}

} // namespace glm3d
