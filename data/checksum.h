#pragma once
// Checksums of the token store, chosen so any user can recompute them in Python:
//   crc32  == zlib.crc32(bytes)              (CRC-32/ISO-HDLC, the zlib/PNG polynomial)
//   sha256 == hashlib.sha256(bytes).hexdigest()
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace glm3d {

// Incremental: crc32(b, crc32(a)) == crc32(a + b). Start from 0.
uint32_t crc32(const void* data, size_t n, uint32_t crc = 0);
// "0x%08x", as manifests write a CRC-32.
std::string crc32_hex(uint32_t crc);

// Lower-case hex SHA-256 of the bytes.
std::string sha256_hex(std::string_view bytes);

} // namespace glm3d
