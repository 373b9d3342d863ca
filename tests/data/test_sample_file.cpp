// Sample files (data/sample_file.h) written by other tools: any HDF5 file with the documented
// datasets is read (N and seq_len from the shapes, `kind` optional, int64 converted), and a file
// with a missing dataset, mismatched shapes, a sep outside [0, seq_len] or a loss_mask other
// than 0/1 is refused with one line naming the file.
#include "data/h5_check.h"
#include "data/sample_file.h"
#include "data_fixture.h"

#include <gtest/gtest.h>

#include <map>

namespace glm3d {
namespace {

struct Dataset {
  std::vector<hsize_t> dims;
  std::vector<int64_t> values; // row-major
};
using Datasets = std::map<std::string, Dataset>;

// A plain HDF5 file of int64 datasets and no attributes (as h5py would write it).
void write_raw(const std::string& path, const Datasets& sets) {
  auto lock = h5::library_lock();
  h5::Handle f(H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)), H5Fclose);
  for (const auto& [name, d] : sets) {
    h5::Handle space(H5_CHECK(H5Screate_simple(int(d.dims.size()), d.dims.data(), nullptr)), H5Sclose);
    h5::Handle ds(H5_CHECK(H5Dcreate2(f.get(), name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT)),
                  H5Dclose);
    H5_CHECK(H5Dwrite(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.values.data()));
  }
}

// Two samples of length 4.
Datasets two_samples() {
  return {{"tokens", {{2, 4}, {10, 11, 12, 13, 20, 21, 22, 23}}},
          {"position_ids", {{2, 4}, {0, 1, 2, 1, 0, 1, 1, 1}}},
          {"block_position_ids", {{2, 4}, {0, 0, 0, 1, 0, 0, 1, 2}}},
          {"targets", {{2, 4}, {0, 0, 13, 7, 0, 22, 23, 7}}},
          {"loss_mask", {{2, 4}, {0, 0, 1, 1, 0, 1, 1, 1}}},
          {"sep", {{2}, {2, 1}}}};
}

std::string error_of(const std::string& path) {
  try {
    read_sample_file(path);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no UsageError";
}

TEST(SampleFile, AnyHdf5FileWithTheDatasets) {
  const std::string p = test::temp_dir("raw") + "/raw.h5";
  write_raw(p, two_samples());
  const std::vector<Sample> s = read_sample_file(p);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].tokens, (std::vector<int32_t>{20, 21, 22, 23}));
  EXPECT_EQ(s[0].position_ids, (std::vector<int32_t>{0, 1, 2, 1}));
  EXPECT_EQ(s[1].block_position_ids, (std::vector<int32_t>{0, 0, 1, 2}));
  EXPECT_EQ(s[0].targets, (std::vector<int32_t>{0, 0, 13, 7}));
  EXPECT_EQ(s[1].loss_mask, (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ(s[0].sep, 2);
  EXPECT_EQ(s[1].sep, 1);
  EXPECT_EQ(s[0].kind, -1); // no kind dataset
  Datasets with_kind = two_samples();
  with_kind["kind"] = {{2}, {1, 0}};
  write_raw(p, with_kind);
  EXPECT_EQ(read_sample_file(p)[0].kind, 1);
}

TEST(SampleFile, MalformedFilesNameTheFileAndTheDataset) {
  const std::string d = test::temp_dir("rawbad");
  auto variant = [&](const std::string& name, auto change) {
    Datasets sets = two_samples();
    change(sets);
    write_raw(d + "/" + name, sets);
    return error_of(d + "/" + name);
  };
  EXPECT_EQ(variant("a.h5", [](Datasets& s) { s.erase("targets"); }),
            "sample file " + d + "/a.h5 has no dataset 'targets'");
  EXPECT_EQ(variant("b.h5",
                    [](Datasets& s) {
                      s["loss_mask"] = {{2, 3}, {0, 1, 1, 0, 1, 1}};
                    }),
            "sample file " + d + "/b.h5: dataset loss_mask is [2, 3], tokens makes it [2, 4]");
  EXPECT_EQ(variant("c.h5",
                    [](Datasets& s) {
                      s["sep"] = {{3}, {1, 1, 1}};
                    }),
            "sample file " + d + "/c.h5: dataset sep is [3], tokens makes it [2]");
  EXPECT_EQ(variant("d.h5", [](Datasets& s) { s["sep"].values[1] = 5; }),
            "sample file " + d + "/d.h5: sample 1 has sep 5 outside [0, 4]");
  EXPECT_EQ(variant("e.h5", [](Datasets& s) { s["loss_mask"].values[6] = 2; }),
            "sample file " + d + "/e.h5: sample 1 has loss_mask 2 at position 2 (0 or 1 expected)");
  EXPECT_EQ(variant("f.h5",
                    [](Datasets& s) {
                      s["tokens"] = {{8}, {1, 2, 3, 4, 5, 6, 7, 8}};
                    }),
            "sample file " + d + "/f.h5: dataset tokens must be [N, seq_len], it is 1-D");
  EXPECT_EQ(variant("g.h5",
                    [](Datasets& s) {
                      s["kind"] = {{2, 1, 1}, {0, 1}};
                    }),
            "sample file " + d + "/g.h5: dataset kind has 3 dimensions, expected 1 to 2");
  test::write_bytes(d + "/h.h5", "not hdf5");
  EXPECT_EQ(error_of(d + "/h.h5").rfind("sample file " + d + "/h.h5 is not a glm3d sample file: ", 0), 0u);
}

} // namespace
} // namespace glm3d
