#pragma once
// A StageCompute whose closed forms are known: virtual stage s multiplies its input by
// a_s = 2 + s % 3, the first stage's input for microbatch mb is x[i] = offset + mb + 1 + i
// (i < 4 + mb, so sizes differ per microbatch), and the loss is the sum of the last output.
// Then stage s receives in = x * prod_{k<s} a_k and dout = prod_{k>s} a_k, and dL/da_s =
// sum_mb sum_i in_i * dout_i. Every value is a small integer, exact in f32.
#include "pipeline/stage_compute.h"

#include <gtest/gtest.h>
#include <map>
#include <set>
#include <vector>

namespace glm3d::test {

class MockStage final : public StageCompute {
public:
  MockStage(int pp, int pp_rank, int virtual_stages, int num_microbatches, float offset)
      : grad_a(size_t(virtual_stages), 0.0), pp_(pp), rank_(pp_rank), v_(virtual_stages),
        m_(num_microbatches), offset_(offset) {}

  static double a(int s) { return 2 + s % 3; }
  int stage(int chunk) const { return chunk * pp_ + rank_; }
  int num_stages() const { return pp_ * v_; }
  double x(int mb, int64_t i) const { return offset_ + mb + 1 + double(i); }
  double prod(int from, int to) const { // a_from * ... * a_{to-1}
    double p = 1;
    for (int k = from; k < to; ++k)
      p *= a(k);
    return p;
  }
  // Closed forms the test compares with.
  double expected_loss() const {
    double l = 0;
    for (int mb = 0; mb < m_; ++mb)
      for (int64_t i = 0; i < size(mb); ++i)
        l += x(mb, i) * prod(0, num_stages());
    return l;
  }
  double expected_grad_a(int chunk) const {
    const int s = stage(chunk);
    double g = 0;
    for (int mb = 0; mb < m_; ++mb)
      for (int64_t i = 0; i < size(mb); ++i)
        g += x(mb, i) * prod(0, s) * prod(s + 1, num_stages());
    return g;
  }
  static int64_t size(int mb) { return 4 + mb; }

  int64_t activation_size(int, int microbatch) const override { return size(microbatch); }

  void forward(int chunk, int mb, const float* in, float* out) override {
    const int s = stage(chunk);
    EXPECT_TRUE(forwarded.insert({mb, chunk}).second) << "forward twice mb " << mb << " chunk " << chunk;
    EXPECT_EQ(in == nullptr, s == 0);
    EXPECT_EQ(out == nullptr, s == num_stages() - 1);
    std::vector<double> v(size_t(size(mb)));
    for (int64_t i = 0; i < size(mb); ++i) {
      const double want = x(mb, i) * prod(0, s);
      if (in) {
        EXPECT_EQ(double(in[i]), want) << "stage " << s << " mb " << mb << " i " << i;
      }
      v[size_t(i)] = in ? double(in[i]) : want;
      if (out)
        out[i] = float(a(s) * v[size_t(i)]);
      else
        loss += a(s) * v[size_t(i)];
    }
    saved_in[{mb, chunk}] = {in, v};
  }

  void backward(int chunk, int mb, const float* dout, float* din) override {
    const int s = stage(chunk);
    EXPECT_TRUE(forwarded.count({mb, chunk})) << "backward before forward mb " << mb << " chunk " << chunk;
    EXPECT_TRUE(backwarded.insert({mb, chunk}).second) << "backward twice mb " << mb << " chunk " << chunk;
    EXPECT_EQ(dout == nullptr, s == num_stages() - 1);
    EXPECT_EQ(din == nullptr, s == 0);
    const auto& [in_ptr, in_vals] = saved_in.at({mb, chunk});
    for (int64_t i = 0; i < size(mb); ++i) {
      const double g = dout ? double(dout[i]) : 1.0;
      EXPECT_EQ(g, prod(s + 1, num_stages())) << "stage " << s << " mb " << mb << " i " << i;
      // The executor keeps `in` valid until this backward returns.
      if (in_ptr) {
        EXPECT_EQ(double(in_ptr[i]), in_vals[size_t(i)]);
      }
      grad_a[size_t(chunk)] += in_vals[size_t(i)] * g;
      if (din)
        din[i] = float(a(s) * g);
    }
    saved_in.erase({mb, chunk});
  }

  double loss = 0;
  std::vector<double> grad_a; // per chunk
  std::set<std::pair<int, int>> forwarded, backwarded;

private:
  int pp_, rank_, v_, m_;
  float offset_;
  std::map<std::pair<int, int>, std::pair<const float*, std::vector<double>>> saved_in;
};

} // namespace glm3d::test
