// The object-header check before HDF5 decodes attributes (data/h5_object_header.h) and the
// checksummed format glm3d writes (data/h5_format.h): files in both formats pass and count every
// attribute message, across continuation chunks; an attribute message whose dataspace or name
// length runs past the message (what made HDF5 1.10.8 read out of bounds in the fuzzer) is a
// UsageError in a version 1 header, and a damaged version 2 header never reaches the decoder
// (HDF5's checksum).
#include "data/h5_attr.h"
#include "data/h5_format.h"
#include "data/h5_object_header.h"
#include "data_fixture.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

// A file with dataset "w" (int8 [2, 3]) carrying "quant" (string), "shape" ([2, 3]) and `extra`
// int64 attributes a0, a1, ...; version 2 headers when checksummed (attributes kept compact).
std::string write_file(const std::string& tag, bool checksummed, int extra) {
  const std::string path = test::temp_dir(tag) + "/f.h5";
  auto lock = h5::library_lock();
  h5::Handle fapl = checksummed ? h5::checksummed_fapl() : h5::Handle(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  h5::Handle f(H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get())), H5Fclose);
  const hsize_t dims[2] = {2, 3};
  h5::Handle space(H5_CHECK(H5Screate_simple(2, dims, nullptr)), H5Sclose);
  h5::Handle dcpl(H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)), H5Pclose);
  if (checksummed)
    H5_CHECK(H5Pset_attr_phase_change(dcpl.get(), 1000, 900)); // compact: in the header's chunks
  h5::Handle d(
      H5_CHECK(H5Dcreate2(f.get(), "w", H5T_STD_I8LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT)),
      H5Dclose);
  h5::write_attr_str(d.get(), "quant", "int8");
  h5::write_attr_i64s(d.get(), "shape", {2, 3});
  for (int i = 0; i < extra; ++i)
    h5::write_attr_i64(d.get(), "a" + std::to_string(i), i);
  return path;
}

h5::Handle open_w(const std::string& path, h5::Handle& f) {
  f = h5::Handle(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
  return h5::Handle(H5_CHECK(H5Dopen2(f.get(), "w", H5P_DEFAULT)), H5Dclose);
}

// The offset of the data of attribute message `name` in a version 1 header (the name follows the
// 8-byte attribute header).
size_t attribute_at(const std::string& bytes, const std::string& name) {
  const size_t at = bytes.find(name + std::string(1, '\0'));
  EXPECT_NE(at, std::string::npos);
  return at - 8;
}

TEST(H5ObjectHeader, BothFormatsPassAndEveryAttributeIsCounted) {
  for (bool checksummed : {false, true}) {
    SCOPED_TRACE(checksummed ? "version 2 headers" : "version 1 headers");
    const std::string path = write_file("h5oh", checksummed, 30); // 32 attributes: several chunks
    h5::Handle f;
    h5::Handle d = open_w(path, f);
    EXPECT_EQ(h5::check_object_header(d.get()), 32);
    EXPECT_EQ(h5::read_attr_i64s(d.get(), "shape"), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(h5::read_attr_i64(d.get(), "a29"), 29);
    const std::string bytes = test::read_bytes(path);
    EXPECT_EQ(bytes.find("OHDR") != std::string::npos, checksummed);
  }
}

TEST(H5ObjectHeader, DenseAttributesAreLeftToHdf5) {
  // Version 2, more than 8 attributes, default phase change: a fractal heap, not walked.
  const std::string path = test::temp_dir("h5dense") + "/f.h5";
  {
    auto lock = h5::library_lock();
    h5::Handle f(H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, h5::checksummed_fapl().get())),
                 H5Fclose);
    for (int i = 0; i < 12; ++i)
      h5::write_attr_i64(f.get(), "a" + std::to_string(i), i);
  }
  h5::Handle f(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
  EXPECT_EQ(h5::check_object_header(f.get()), 0);
  EXPECT_EQ(h5::read_attr_i64(f.get(), "a11"), 11);
}

TEST(H5ObjectHeader, AVersion1AttributeRunningPastItsMessageIsRefused) {
  const std::string path = write_file("h5v1", false, 0);
  const std::string good = test::read_bytes(path);
  const size_t shape = attribute_at(good, "shape");
  ASSERT_EQ(good[shape], 1); // attribute message version 1: name, datatype, dataspace padded to 8
  const size_t dt_len = uint8_t(good[shape + 4]) | uint8_t(good[shape + 5]) << 8;
  const size_t ds = shape + 8 + 8 + (dt_len + 7) / 8 * 8;
  ASSERT_EQ(good[ds], 1);     // dataspace version 1
  ASSERT_EQ(good[ds + 1], 1); // rank 1
  ASSERT_EQ(good[ds + 8], 2); // [2]

  std::string bad = good; // 2^40 elements of 8 bytes in a message of a few dozen
  bad[ds + 8 + 5] = 1;
  test::write_bytes(path, bad);
  {
    h5::Handle f;
    h5::Handle d = open_w(path, f);
    try {
      (void)h5::has_attr(d.get(), "quant"); // HDF5 would decode "quant" only: all are checked
      FAIL() << "no refusal";
    } catch (const UsageError& e) {
      EXPECT_NE(
          std::string(e.what()).find("attribute message 1 is damaged (1099511627778 elements of 8 bytes"),
          std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  bad = good; // a name length beyond the message
  bad[shape + 3] = char(0x40);
  test::write_bytes(path, bad);
  h5::Handle f;
  h5::Handle d = open_w(path, f);
  EXPECT_THROW((void)h5::read_attr_i64s(d.get(), "shape"), UsageError);
}

TEST(H5ObjectHeader, ADamagedVersion2HeaderFailsItsChecksum) {
  const std::string path = write_file("h5v2", true, 0);
  std::string bytes = test::read_bytes(path);
  const size_t at = bytes.find(std::string("shape") + '\0');
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] ^= 0x40; // inside the attribute's datatype or dataspace
  test::write_bytes(path, bytes);
  h5::Handle f(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
  try {
    h5::Handle d(H5_CHECK(H5Dopen2(f.get(), "w", H5P_DEFAULT)), H5Dclose);
    FAIL() << "the damaged header was loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
  }
}

} // namespace
} // namespace glm3d
