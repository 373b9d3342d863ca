// The streamed checkpoint writer and reader (one tensor at a time) and the streamed safetensors
// writer: values and checksums round trip (f32 exactly, bf16 rounded to nearest even), a file is
// renamed into place only when complete, misuse is caught, block reads return any element range.
#include "core/check.h"
#include "core/dtype.h"
#include "gradcheck.h"
#include "model/safetensors.h"
#include "train/checkpoint_stream.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

namespace glm3d {
namespace {

namespace fs = std::filesystem;
using test::SeededRng;

std::vector<float> random_tensor(int64_t n, std::mt19937_64& gen) {
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v)
    x = d(gen);
  return v;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("glm3d_stream_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

TEST(CheckpointStream, RoundTripF32AndBf16InAnyOrder) {
  SeededRng rng;
  std::mt19937_64& gen = rng.gen();
  TempDir dir;
  CheckpointMeta m;
  m.kind = "import";
  m.cfg = preset_config("tiny-glm2");
  m.special_tokens = {{"gmask", 64790}, {"eos", 2}};
  std::map<std::string, std::vector<float>> values;
  for (const CkptTensor& t : checkpoint_tensors(m.cfg))
    values[t.name] = random_tensor(t.numel(), gen);
  for (const std::string dtype : {"f32", "bf16"}) {
    m.param_dtype = dtype;
    const std::string path = (dir.path / (dtype + ".h5")).string();
    {
      CheckpointStreamWriter w(path, m);
      const std::vector<CkptTensor>& ts = w.tensors();
      for (auto it = ts.rbegin(); it != ts.rend(); ++it) // any order
        w.write(it->name, values.at(it->name).data());
      EXPECT_FALSE(fs::exists(path)) << "renamed before finish()";
      w.finish();
    }
    EXPECT_TRUE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    CheckpointStreamReader r(path);
    EXPECT_EQ(r.meta().special_tokens, m.special_tokens);
    EXPECT_EQ(config_mismatch(r.meta().cfg, m.cfg), "");
    EXPECT_EQ(r.meta().param_dtype, dtype);
    for (const CkptTensor& t : r.tensors()) {
      std::vector<float> got(size_t(t.numel()), std::nanf(""));
      r.read(t, got.data()); // checksum verified inside
      const std::vector<float>& want = values.at(t.name);
      for (int64_t i = 0; i < t.numel(); ++i) {
        const float w = dtype == "bf16" ? float(bf16(want[size_t(i)])) : want[size_t(i)];
        ASSERT_EQ(got[size_t(i)], w) << t.name << "[" << i << "] " << dtype << " " << rng.tag();
      }
    }
  }
}

TEST(CheckpointStream, UnfinishedFileIsRemovedAndMisuseCaught) {
  TempDir dir;
  CheckpointMeta m;
  m.cfg = preset_config("tiny-glm2");
  const std::string path = (dir.path / "c.h5").string();
  {
    CheckpointStreamWriter w(path, m);
    const CkptTensor& t = w.tensors()[0];
    std::vector<float> v(size_t(t.numel()), 1.f);
    w.write(t.name, v.data());
    EXPECT_THROW(w.write(t.name, v.data()), Error); // twice
    EXPECT_THROW(w.write("no.such.tensor", v.data()), Error);
    EXPECT_THROW(w.finish(), Error); // the other tensors were never written
    EXPECT_TRUE(fs::exists(path + ".tmp"));
  }
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_FALSE(fs::exists(path));
}

TEST(CheckpointStream, CorruptTensorFailsItsChecksum) {
  TempDir dir;
  CheckpointMeta m;
  m.cfg = preset_config("tiny-glm2");
  const std::string path = (dir.path / "c.h5").string();
  std::vector<float> ones;
  {
    CheckpointStreamWriter w(path, m);
    for (const CkptTensor& t : w.tensors()) {
      ones.assign(size_t(t.numel()), 1.f);
      w.write(t.name, ones.data());
    }
    w.finish();
  }
  // Flip one float of the file's last tensor data (output_layer, written last and largest).
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), {});
    const size_t at = bytes.rfind(std::string("\x00\x00\x80\x3f", 4)); // the last 1.0f
    ASSERT_NE(at, std::string::npos);
    f.seekp(std::streamoff(at));
    f.write("\x00\x00\x00\x40", 4); // 2.0f
  }
  CheckpointStreamReader r(path);
  const CkptTensor& last = r.tensors().back();
  std::vector<float> got(size_t(last.numel()));
  try {
    r.read(last, got.data());
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'params/" + last.name + "' fails its checksum"),
              std::string::npos)
        << e.what();
  }
}

TEST(SafetensorsStream, OrderBlocksAndRanges) {
  SeededRng rng;
  std::mt19937_64& gen = rng.gen();
  TempDir dir;
  const std::string path = (dir.path / "s.safetensors").string();
  // 600000 elements: more than one conversion block (2^18).
  const std::vector<float> big = random_tensor(600000, gen), small = random_tensor(7, gen);
  {
    SafetensorsStreamWriter w(path, {{"big", {1000, 600}, StDtype::bf16}, {"small", {7}, StDtype::f32}});
    EXPECT_THROW(w.write("small", small.data()), Error); // out of order
    w.write("big", big.data());
    EXPECT_THROW(w.finish(), Error); // "small" never written
  }
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  {
    SafetensorsStreamWriter w(path, {{"big", {1000, 600}, StDtype::bf16}, {"small", {7}, StDtype::f32}});
    w.write("big", big.data());
    w.write("small", small.data());
    w.finish();
  }
  SafetensorsReader r(path);
  EXPECT_EQ(r.read_f32("small"), small);
  const std::vector<float> all = r.read_f32("big");
  for (size_t i = 0; i < big.size(); ++i)
    ASSERT_EQ(all[i], float(bf16(big[i]))) << i << " " << rng.tag();
  std::vector<float> part(300000);
  r.read_f32("big", part.data(), 262000, 300000); // across a block boundary, from an odd offset
  for (size_t i = 0; i < part.size(); ++i)
    ASSERT_EQ(part[i], all[262000 + i]) << i;
  EXPECT_THROW(r.read_f32("big", part.data(), 300001, 300000), Error); // past the end
}

} // namespace
} // namespace glm3d
