#pragma once
// Scalar and string attributes on an HDF5 object (file root, group or dataset), checked.
#include "data/h5_check.h"

#include <cstdint>
#include <string>
#include <vector>

namespace glm3d::h5 {

void write_attr_i64(hid_t obj, const std::string& name, int64_t v);
void write_attr_u64(hid_t obj, const std::string& name, uint64_t v);
void write_attr_f64(hid_t obj, const std::string& name, double v);
void write_attr_f32(hid_t obj, const std::string& name, float v);
void write_attr_i64s(hid_t obj, const std::string& name, const std::vector<int64_t>& v); // 1-D array
void write_attr_str(hid_t obj, const std::string& name, const std::string& v);

bool has_attr(hid_t obj, const std::string& name);
int64_t read_attr_i64(hid_t obj, const std::string& name);
uint64_t read_attr_u64(hid_t obj, const std::string& name);
double read_attr_f64(hid_t obj, const std::string& name); // f32 attributes too (exactly)
std::vector<int64_t> read_attr_i64s(hid_t obj, const std::string& name);
std::string read_attr_str(hid_t obj, const std::string& name);

} // namespace glm3d::h5
