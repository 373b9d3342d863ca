#include "flash_reference.h"

namespace glm3d::test {

// Naive attention per (sample, head) with the whole [S, S] probability matrix P, then
//   dv_j += P_ij do_i,  dp_ij = do_i.v_j,  ds_ij = P_ij (dp_ij - D_i),  D_i = do_i.out_i,
//   dq_i += ds_ij k_j / sqrt(hd),  dk_j += ds_ij q_i / sqrt(hd).
// Magnitudes (the error bounds of the f32 and bf16 tests are multiples of them):
//   mag(dv_jd) = sum P_ij |do_id|,  mag(dq_id) = sum_j P_ij (|dp_ij| + |D_i|) |k_jd| / sqrt(hd)
//   (dk alike with |q_id|);  dmag = the same sums with Dabs_i = sum_d |do_id| out_mag_id in
//   place of |dp_ij| + |D_i|, where out_mag_id = sum_j P_ij |v_jd|.
FlashReference flash_reference(const FlashProblem& p) {
  const FlashShape& sh = p.sh;
  const int64_t S = sh.S, hd = sh.hd, hpg = sh.nh / sh.ng;
  const double scale = 1.0 / std::sqrt(double(hd));
  FlashReference r;
  r.out.assign(p.out_size(), 0.0);
  r.out_mag.assign(p.out_size(), 0.0);
  r.lse.assign(p.lse_size(), 0.0);
  r.dqkv.assign(p.qkv_size(), 0.0);
  r.mag.assign(p.qkv_size(), 0.0);
  r.dmag.assign(p.qkv_size(), 0.0);
  const auto x = p.view(p.qkv.data());
  const auto g = p.view(r.dqkv.data()), m = p.view(r.mag.data()), dm = p.view(r.dmag.data());
  std::vector<double> P(size_t(S * S));
  for (int64_t b = 0; b < sh.B; ++b)
    for (int64_t h = 0; h < sh.nh; ++h) {
      const int64_t grp = h / hpg, t0 = b * S;
      auto row = [&](std::vector<double>& v, int64_t i) { return v.data() + ((t0 + i) * sh.nh + h) * hd; };
      for (int64_t i = 0; i < S; ++i) {
        double mx = -INFINITY, z = 0;
        for (int64_t j = 0; j < S; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < hd; ++d)
            dot += x.q.at(t0 + i, h)[d] * x.k.at(t0 + j, grp)[d];
          P[i * S + j] = p.visible(b, i, j) ? dot * scale : -INFINITY;
          mx = std::max(mx, P[i * S + j]);
        }
        for (int64_t j = 0; j < S; ++j)
          z += std::exp(P[i * S + j] - mx);
        r.lse[(b * sh.nh + h) * S + i] = mx + std::log(z);
        for (int64_t j = 0; j < S; ++j) {
          P[i * S + j] = std::exp(P[i * S + j] - mx) / z;
          for (int64_t d = 0; d < hd; ++d) {
            row(r.out, i)[d] += P[i * S + j] * x.v.at(t0 + j, grp)[d];
            row(r.out_mag, i)[d] += P[i * S + j] * std::abs(x.v.at(t0 + j, grp)[d]);
          }
        }
      }
      for (int64_t i = 0; i < S; ++i) {
        const double* dO = p.dout.data() + ((t0 + i) * sh.nh + h) * hd;
        double D = 0, Dabs = 0;
        for (int64_t d = 0; d < hd; ++d) {
          D += dO[d] * row(r.out, i)[d];
          Dabs += std::abs(dO[d]) * row(r.out_mag, i)[d];
        }
        for (int64_t j = 0; j < S; ++j) {
          const double pij = P[i * S + j];
          if (pij == 0.0)
            continue;
          double dp = 0;
          for (int64_t d = 0; d < hd; ++d)
            dp += dO[d] * x.v.at(t0 + j, grp)[d];
          const double ds = pij * (dp - D), am = pij * (std::abs(dp) + std::abs(D)) * scale;
          const double dam = pij * Dabs * scale;
          for (int64_t d = 0; d < hd; ++d) {
            const double qd = x.q.at(t0 + i, h)[d], kd = x.k.at(t0 + j, grp)[d];
            g.v.at(t0 + j, grp)[d] += pij * dO[d];
            m.v.at(t0 + j, grp)[d] += pij * std::abs(dO[d]);
            g.q.at(t0 + i, h)[d] += ds * scale * kd;
            m.q.at(t0 + i, h)[d] += am * std::abs(kd);
            dm.q.at(t0 + i, h)[d] += dam * std::abs(kd);
            g.k.at(t0 + j, grp)[d] += ds * scale * qd;
            m.k.at(t0 + j, grp)[d] += am * std::abs(qd);
            dm.k.at(t0 + j, grp)[d] += dam * std::abs(qd);
          }
        }
      }
    }
  return r;
}

} // namespace glm3d::test
