#pragma once
// GeLU in the tanh form GLM uses: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
// GeGLU as in GLM-130B: for a row [a | g] of width 2F, y = a * gelu(g),
// SwiGLU as in ChatGLM2/3: for a row [a | b] of width 2F (dense_h_to_4h's output cut in two
// halves, torch.chunk), y = silu(a) * b, silu(a) = a sigmoid(a). Note the gate is the second
// half in GeGLU and the first in SwiGLU, as in the two references.
#include <cstdint>

namespace glm3d::cpu {

template <class T> void gelu_forward(const T* x, T* y, int64_t n);
// dx = dy * gelu'(x)  (overwrite)
template <class T> void gelu_backward(const T* x, const T* dy, T* dx, int64_t n);

// x [N, 2F] laid out as [a (F) | g (F)] per row; y [N, F].
template <class T> void geglu_forward(const T* x, T* y, int64_t N, int64_t F);
// dx [N, 2F] (overwrite) from dy [N, F].
template <class T> void geglu_backward(const T* x, const T* dy, T* dx, int64_t N, int64_t F);

// x [N, 2F] laid out as [a (F) | b (F)] per row; y [N, F].
template <class T> void swiglu_forward(const T* x, T* y, int64_t N, int64_t F);
// dx [N, 2F] (overwrite) from dy [N, F]:  da = dy b silu'(a),  db = dy silu(a),
// silu'(a) = sigmoid(a) (1 + a (1 - sigmoid(a))).
template <class T> void swiglu_backward(const T* x, const T* dy, T* dx, int64_t N, int64_t F);

} // namespace glm3d::cpu
