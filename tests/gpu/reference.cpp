#include "reference.h"

#include <algorithm>
#include <cmath>

namespace glm3d::gpucheck {

void rmsnorm_ref(const Vec& x, const Vec& gamma, Vec& y, Vec& rstd, int64_t N, int64_t C, double eps) {
  for (int64_t n = 0; n < N; ++n) {
    double ss = 0.0;
    for (int64_t c = 0; c < C; ++c)
      ss += x[n * C + c] * x[n * C + c];
    rstd[n] = 1.0 / std::sqrt(ss / double(C) + eps);
    for (int64_t c = 0; c < C; ++c)
      y[n * C + c] = x[n * C + c] * rstd[n] * gamma[c];
  }
}

void rmsnorm_backward_ref(const Vec& dy, const Vec& x, const Vec& gamma, const Vec& rstd, Vec& dx,
                          Vec& dgamma, int64_t N, int64_t C, bool accumulate) {
  for (int64_t n = 0; n < N; ++n) {
    double sgx = 0.0;
    for (int64_t c = 0; c < C; ++c)
      sgx += dy[n * C + c] * gamma[c] * x[n * C + c] * rstd[n];
    const double mgx = sgx / double(C);
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = x[n * C + c] * rstd[n];
      const double d = rstd[n] * (dy[n * C + c] * gamma[c] - xhat * mgx);
      dx[n * C + c] = (accumulate ? dx[n * C + c] : 0.0) + d;
      dgamma[c] += dy[n * C + c] * xhat;
    }
  }
}

static double sigmoid(double a) {
  return 1.0 / (1.0 + std::exp(-a));
}

void swiglu_ref(const Vec& x, Vec& y, int64_t N, int64_t F) {
  for (int64_t r = 0; r < N; ++r)
    for (int64_t f = 0; f < F; ++f) {
      const double a = x[r * 2 * F + f], b = x[r * 2 * F + F + f];
      y[r * F + f] = a * sigmoid(a) * b;
    }
}

void swiglu_backward_ref(const Vec& x, const Vec& dy, Vec& dx, int64_t N, int64_t F) {
  for (int64_t r = 0; r < N; ++r)
    for (int64_t f = 0; f < F; ++f) {
      const double a = x[r * 2 * F + f], b = x[r * 2 * F + F + f], g = dy[r * F + f], s = sigmoid(a);
      dx[r * 2 * F + f] = g * b * (s + a * s * (1.0 - s));
      dx[r * 2 * F + F + f] = g * a * s;
    }
}

void rope_interleaved_ref(Vec& x, const std::vector<int32_t>& pos, int64_t tokens, int64_t heads, int64_t hd,
                          double base, double sign) {
  const int64_t rot = hd / 2;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < rot / 2; ++i) {
        const double ang = double(pos[t]) * std::pow(base, -double(2 * i) / double(rot));
        const double c = std::cos(ang), s = sign * std::sin(ang);
        double* p = x.data() + (t * heads + h) * hd;
        const double x1 = p[2 * i], x2 = p[2 * i + 1];
        p[2 * i] = x1 * c - x2 * s;
        p[2 * i + 1] = x2 * c + x1 * s;
      }
}

Vec attention_lse_ref(const Vec& qkv, const std::vector<int32_t>& sep, int64_t B, int64_t S, int64_t nh,
                      int64_t hd) {
  Vec lse(size_t(B * nh * S));
  const double scale = 1.0 / std::sqrt(double(hd));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t i = 0; i < S; ++i) {
        const int64_t L = std::max<int64_t>(std::clamp<int64_t>(sep[b], 0, S), i + 1);
        Vec s(static_cast<size_t>(L), 0.0);
        for (int64_t j = 0; j < L; ++j) {
          double d = 0.0;
          for (int64_t e = 0; e < hd; ++e)
            d += qkv[((b * S + i) * nh + h) * 3 * hd + e] * qkv[((b * S + j) * nh + h) * 3 * hd + hd + e];
          s[j] = d * scale;
        }
        const double mx = *std::max_element(s.begin(), s.end());
        double sum = 0.0;
        for (double v : s)
          sum += std::exp(v - mx);
        lse[(b * nh + h) * S + i] = mx + std::log(sum);
      }
  return lse;
}

} // namespace glm3d::gpucheck
