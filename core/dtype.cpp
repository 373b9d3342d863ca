#include "core/dtype.h"

#include "core/check.h"

namespace glm3d {

size_t dtype_size(DType t) {
  switch (t) {
  case DType::f32:
    return 4;
  case DType::f64:
    return 8;
  case DType::bf16:
    return 2;
  case DType::i32:
    return 4;
  case DType::i64:
    return 8;
  case DType::u32:
    return 4;
  case DType::u64:
    return 8;
  case DType::u8:
    return 1;
  }
  GLM3D_FAIL() << "unknown dtype " << int(t);
}

std::string dtype_name(DType t) {
  switch (t) {
  case DType::f32:
    return "f32";
  case DType::f64:
    return "f64";
  case DType::bf16:
    return "bf16";
  case DType::i32:
    return "i32";
  case DType::i64:
    return "i64";
  case DType::u32:
    return "u32";
  case DType::u64:
    return "u64";
  case DType::u8:
    return "u8";
  }
  GLM3D_FAIL() << "unknown dtype " << int(t);
}

} // namespace glm3d
