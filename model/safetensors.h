#pragma once
// Safetensors, read and written by glm3d itself: an 8-byte little-endian header length, a JSON
// header {"name": {"dtype": "F16", "shape": [r, c], "data_offsets": [b, e]}, "__metadata__": {...}}
// and the raw little-endian data (offsets relative to the end of the header). F16, BF16 and F32
// are converted to and from f32; I8 (ChatGLM's quantized weights) and any tensor's bytes are read
// and written raw.
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace glm3d {

enum class StDtype { f16, bf16, f32, i8 };
StDtype parse_st_dtype(const std::string& s); // "F16" | "BF16" | "F32" | "I8" (UsageError otherwise)
std::string st_dtype_name(StDtype d);

struct StTensorInfo {
  StDtype dtype = StDtype::f32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // byte offsets into the data section
  int64_t numel() const;
};

// Reads one file's header on open; tensors are read on demand.
class SafetensorsReader {
public:
  explicit SafetensorsReader(const std::string& path); // UsageError naming the file if malformed
  const std::string& path() const { return path_; }
  const std::map<std::string, StTensorInfo>& tensors() const { return tensors_; }
  std::vector<float> read_f32(const std::string& name);
  // Elements [begin, begin + count) of the row-major tensor into out, converted to f32 a block
  // at a time (no copy of the whole tensor in its stored type).
  void read_f32(const std::string& name, float* out, int64_t begin, int64_t count);
  std::vector<uint8_t> read_raw(const std::string& name); // the stored bytes, any dtype

private:
  std::string path_;
  std::ifstream in_;
  uint64_t data_start_ = 0;
  std::map<std::string, StTensorInfo> tensors_;
};

// Every tensor of a directory's *.safetensors files (opened in file-name order), by name: a
// Hugging Face checkpoint in one or more shards. UsageError when the directory holds no such
// file or a tensor appears in two of them.
class SafetensorsDir {
public:
  explicit SafetensorsDir(const std::string& dir);
  bool has(const std::string& name) const { return where_.count(name) > 0; }
  // The file holding tensor `name`; UsageError naming the directory when none does.
  SafetensorsReader& reader(const std::string& name);
  const StTensorInfo& info(const std::string& name) { return reader(name).tensors().at(name); }
  const std::map<std::string, SafetensorsReader*>& tensors() const { return where_; }

private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsReader>> readers_;
  std::map<std::string, SafetensorsReader*> where_;
};

struct StTensorOut {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr; // converted to the file's dtype
  const void* raw = nullptr;   // or: written as is, little-endian elements of raw_dtype
  StDtype raw_dtype = StDtype::f32;
};

// Writes the tensors (in the given order) converted to dtype (raw tensors as their raw_dtype),
// through PATH.tmp then rename.
void write_safetensors(const std::string& path, const std::vector<StTensorOut>& tensors, StDtype dtype,
                       const std::map<std::string, std::string>& metadata = {});

struct StTensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  StDtype dtype = StDtype::f32;
};

// A safetensors file written one tensor at a time: the header (every tensor's offsets) first,
// then each tensor's data in the order of `specs`, converted a block at a time, so the writer
// holds no more than the caller's f32 tensor. Written to PATH.tmp, renamed by finish().
class SafetensorsStreamWriter {
public:
  SafetensorsStreamWriter(const std::string& path, std::vector<StTensorSpec> specs,
                          const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsStreamWriter(); // removes PATH.tmp unless finish() ran
  SafetensorsStreamWriter(const SafetensorsStreamWriter&) = delete;
  SafetensorsStreamWriter& operator=(const SafetensorsStreamWriter&) = delete;

  // The next tensor of `specs` (named, to catch a wrong order): data holds its numel floats.
  void write(const std::string& name, const float* data);
  void write_raw(const std::string& name, const void* bytes); // stored as is, in the spec's dtype
  void finish(); // every tensor written: close and rename to PATH

private:
  std::string path_, tmp_;
  std::vector<StTensorSpec> specs_;
  size_t next_ = 0;
  std::ofstream out_;
  bool finished_ = false;
};

// IEEE half <-> float (round to nearest even; overflow to inf).
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

} // namespace glm3d
