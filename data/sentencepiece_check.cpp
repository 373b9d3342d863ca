#include "data/sentencepiece_check.h"

#include "core/check.h"

#include <cstdint>
#include <cstring>
#include <optional>

namespace glm3d {

namespace {

// The protobuf wire format, as far as walking to a field needs it.
struct Wire {
  std::string_view in;

  std::optional<uint64_t> varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
      const auto b = uint8_t(in.front());
      in.remove_prefix(1);
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80))
        return v;
    }
    return std::nullopt;
  }
  std::optional<std::string_view> bytes(size_t n) {
    if (n > in.size())
      return std::nullopt;
    const std::string_view out = in.substr(0, n);
    in.remove_prefix(n);
    return out;
  }
  // Skips the value of a field of wire type `type` (a group up to its end tag); false when malformed.
  bool skip(uint64_t field, uint32_t type, int depth = 0) {
    switch (type) {
    case 0:
      return varint().has_value();
    case 1:
      return bytes(8).has_value();
    case 5:
      return bytes(4).has_value();
    case 2: {
      const auto n = varint();
      return n && bytes(*n).has_value();
    }
    case 3: // a (deprecated) group: fields until the matching end-group tag
      while (depth < 64) {
        const auto tag = varint();
        if (!tag)
          return false;
        if ((*tag & 7) == 4)
          return (*tag >> 3) == field;
        if (!skip(*tag >> 3, uint32_t(*tag & 7), depth + 1))
          return false;
      }
      return false;
    default:
      return false;
    }
  }
  // Calls fn(bytes) for every length-delimited occurrence of `field` in this message; false when
  // the message is malformed.
  template <class Fn> bool each(uint64_t field, Fn fn) {
    while (!in.empty()) {
      const auto tag = varint();
      if (!tag)
        return false;
      const uint64_t f = *tag >> 3;
      const auto type = uint32_t(*tag & 7);
      if (f == field && type == 2) {
        const auto n = varint();
        const auto b = n ? bytes(*n) : std::nullopt;
        if (!b)
          return false;
        if (!fn(*b))
          return false;
      } else if (!skip(f, type)) {
        return false;
      }
    }
    return true;
  }
};

uint32_t load_u32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4); // little-endian, as SentencePiece writes it (x86)
  return v;
}

// The charsmap blob (normalizer.cc, DecodePrecompiledCharsMap): u32 trie size in bytes, the trie
// (Darts-clone units of 4 bytes), then the NUL-separated normalized strings. The traversal
// (DoubleArray::commonPrefixSearch) starts at unit 0 and follows it unconditionally; from a unit u
// at index i it goes to (i ^ offset(u)) ^ label for the next input byte, and a unit with its leaf
// bit set has its value (an offset into the strings) at i ^ offset(u). Units whose top bit is set
// are values, never followed. So every followed unit must keep (i ^ offset(u)) | 0xFF inside the
// trie, and every value must point inside the strings.
std::string charsmap_problem(std::string_view blob) {
  if (blob.empty())
    return ""; // no normalization (identity)
  if (blob.size() <= 4)
    return "charsmap of " + std::to_string(blob.size()) + " bytes is shorter than its header";
  const uint32_t trie_bytes = load_u32(blob.data());
  if (trie_bytes >= blob.size() - 4 || trie_bytes < 4)
    return "charsmap trie of " + std::to_string(trie_bytes) + " bytes does not fit the " +
           std::to_string(blob.size()) + "-byte charsmap";
  const char* trie = blob.data() + 4;
  const uint64_t units = trie_bytes / 4, strings = blob.size() - 4 - trie_bytes;
  for (uint64_t i = 0; i < units; ++i) {
    const uint32_t u = load_u32(trie + 4 * i);
    if (i > 0 && (u >> 31)) { // a value unit
      if ((u & 0x7FFFFFFFu) >= strings)
        return "charsmap value at trie unit " + std::to_string(i) + " points past the " +
               std::to_string(strings) + " bytes of normalized strings";
      continue;
    }
    const uint64_t offset = uint64_t(u >> 10) << ((u & (1u << 9)) >> 6);
    if (((i ^ offset) | 0xFF) >= units)
      return "charsmap trie unit " + std::to_string(i) + " points past the " + std::to_string(units) +
             " units";
  }
  return "";
}

} // namespace

std::string sentencepiece_model_problem(std::string_view model_proto) {
  // ModelProto: 1 pieces (SentencePiece: 1 piece). SentencePiece 0.1.97 puts the pieces into
  // Darts-clone tries as NUL-terminated keys: an empty piece, or one starting with a NUL byte,
  // makes Darts throw "zero-length key" (an exception, not a Status; found by tests/fuzz), and a
  // NUL inside a piece cuts its key short.
  int64_t index = 0, bad = -1;
  const bool pieces_ok = Wire{model_proto}.each(1, [&](std::string_view piece) {
    bool named = false, nul = false;
    const bool ok = Wire{piece}.each(1, [&](std::string_view text) {
      named |= !text.empty();
      nul |= text.find('\0') != std::string_view::npos;
      return true;
    });
    if ((!named || nul) && bad < 0)
      bad = index;
    ++index;
    return ok;
  });
  if (!pieces_ok)
    return "malformed protobuf";
  if (bad >= 0)
    return "piece " + std::to_string(bad) + " is empty or holds a NUL byte";
  // ModelProto: 3 normalizer_spec, 5 denormalizer_spec; NormalizerSpec: 2 precompiled_charsmap.
  std::string problem;
  for (const auto& spec_field : {std::pair{3, "normalizer"}, std::pair{5, "denormalizer"}}) {
    const char* name = spec_field.second;
    const bool ok = Wire{model_proto}.each(spec_field.first, [&](std::string_view spec) {
      return Wire{spec}.each(2, [&](std::string_view blob) {
        if (problem.empty() && !(problem = charsmap_problem(blob)).empty())
          problem = std::string(name) + " " + problem;
        return true;
      });
    });
    if (!ok)
      return "malformed protobuf";
  }
  return problem;
}

void check_sentencepiece_model(std::string_view model_proto, const std::string& what) {
  const std::string problem = sentencepiece_model_problem(model_proto);
  GLM3D_USAGE_CHECK(problem.empty()) << what << " is not a SentencePiece model: " << problem;
}

} // namespace glm3d
