#pragma once
// Strided views of the attention heads inside a projection's output, so attention and RoPE
// read q, k, v where the QKV linear wrote them (no gather). Element (b, s, head, d) of a view
// with `heads` heads of width hd over a [B, S, ...] buffer sits at
//   data + (b * S + s) * tok + head * head_stride + d.
#include <cstdint>
#include <type_traits>

namespace glm3d::cpu {

template <class T> struct HeadView {
  T* data = nullptr;
  int64_t tok = 0;         // elements between consecutive tokens
  int64_t head_stride = 0; // elements between consecutive heads of one token
  T* at(int64_t token, int64_t head) const { return data + token * tok + head * head_stride; }
};

// q (nh heads) and k, v (ng groups each) of one attention call. T may be const.
template <class T> struct QkvView {
  HeadView<T> q, k, v;
  // A read-only view of a writable one.
  operator QkvView<const T>() const requires(!std::is_const_v<T>) {
    return {{q.data, q.tok, q.head_stride}, {k.data, k.tok, k.head_stride}, {v.data, v.tok, v.head_stride}};
  }
};

// ChatGLM-6B / GLM-130B interleaving: qkv [B, S, nh, 3, hd], per head q, k, v contiguous (ng = nh).
template <class T> QkvView<T> interleaved_qkv(T* qkv, int64_t nh, int64_t hd) {
  const int64_t tok = nh * 3 * hd;
  return {{qkv, tok, 3 * hd}, {qkv + hd, tok, 3 * hd}, {qkv + 2 * hd, tok, 3 * hd}};
}

// ChatGLM2/3 (multi-query groups): each token's row is [Q (nh hd) | K (ng hd) | V (ng hd)].
template <class T> QkvView<T> packed_qkv(T* qkv, int64_t nh, int64_t ng, int64_t hd) {
  const int64_t tok = (nh + 2 * ng) * hd;
  return {{qkv, tok, hd}, {qkv + nh * hd, tok, hd}, {qkv + (nh + ng) * hd, tok, hd}};
}

} // namespace glm3d::cpu
