#pragma once
// A check of a serialized SentencePiece model before SentencePiece loads it.
//
// SentencePiece (0.1.97 in Debian 12, and 0.2.1, upstream issue google/sentencepiece#1269) trusts
// the normalizer's `precompiled_charsmap`: a Darts-clone double-array trie whose unit offsets and
// values it follows without bounds checks, followed by the normalized strings the values point
// into. A damaged model file therefore loads without complaint and crashes the first Encode (an
// out-of-bounds read in Normalizer::NormalizePrefix; found by tests/fuzz). This walks the protobuf
// to both charsmaps (ModelProto.normalizer_spec and .denormalizer_spec, NormalizerSpec field 2)
// and checks every unit as the traversal would use it. It also refuses a piece that is empty or holds a
// NUL byte, which makes SentencePiece throw an exception of Darts-clone's instead of an error.
#include <string>
#include <string_view>

namespace glm3d {

// "" when the model's charsmaps are safe to traverse (or absent), else what is wrong, e.g.
// "normalizer charsmap: trie unit 517 points past the 2048 units". A protobuf too malformed to
// walk gives a reason too (SentencePiece rejects those itself).
std::string sentencepiece_model_problem(std::string_view model_proto);

// UsageError "WHAT is not a SentencePiece model: <problem>" unless the problem is "" (every
// tokenizer reader calls it before SentencePiece loads the model).
void check_sentencepiece_model(std::string_view model_proto, const std::string& what);

} // namespace glm3d
