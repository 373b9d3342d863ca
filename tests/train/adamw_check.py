"""Checks of one AdamW step read back from training checkpoints (see adamw_exact.sh).

usage: adamw_check.py LR BETA1 BETA2 EPS WD CLIP  A_DIR A_METRICS  B_DIR B_METRICS  C_DIR C_METRICS
  A: --clip-grad CLIP (below the gradient norm), --weight-decay WD
  B: --clip-grad 0 (off),                        --weight-decay WD
  C: --clip-grad 1000 (above the norm),          --weight-decay 0
Every run: --lr LR --warmup-steps 1 (so step 1 uses LR itself) --beta1 --beta2 --eps, 1 step.

After step 1 from m = v = 0, with g the (clipped) gradient, AdamW (core/cpu/adamw.h) leaves
  m = (1-b1) g,  v = (1-b2) g^2,  p1 = p0 (1 - lr wd) - lr (m/bc1) / (sqrt(v/bc2) + eps),
  bc1 = 1-b1, bc2 = 1-b2 (bias corrections at step 1). The hyper-parameters come from this
script's arguments, never from the checkpoint, so an ignored flag fails a check.
Needs Debian's python3-h5py and python3-numpy (run with /usr/bin/python3).
"""
import json
import sys

import h5py
import numpy as np

f32 = np.float32
LR, B1, B2, EPS, WD, CLIP = map(float, sys.argv[1:7])
runs = {}
for name, (ckdir, metrics) in zip("ABC", zip(sys.argv[7::2], sys.argv[8::2])):
    rec = json.loads(open(metrics).readline())
    with h5py.File(ckdir + "/step_00000001.h5", "r") as f:
        t = {k: (f["params"][k][...], f["adam_m"][k][...], f["adam_v"][k][...]) for k in f["params"]}
    runs[name] = (rec, t)


def zero_init(name):  # biases start at 0, LayerNorm weights at 1 (model/init.h); neither decays
    return name.endswith(".bias")


def one_init(name):
    return name.endswith("layernorm.weight")


def adam_delta(m, v, eps):
    """lr (m/bc1) / (sqrt(v/bc2) + eps) in float32, in the kernel's order of operations."""
    bc1, bc2 = f32(1.0 - B1), f32(1.0 - B2)
    return (f32(LR) * (m / bc1)) / (np.sqrt(v / bc2) + f32(eps))


worst = {}
for name, (rec, t) in runs.items():
    assert rec["step"] == 1 and rec["lr"] == LR, "run %s: step 1 lr %r, expected %r" % (name, rec["lr"], LR)
    clip = {"A": CLIP, "B": 0.0, "C": 1000.0}[name]
    gn = rec["grad_norm"]
    # Clipping: ||m|| / (1-b1) is the norm of the gradient AdamW saw. Clipped exactly as in
    # Megatron: g * clip / (norm + 1e-6) when norm > clip.
    seen = gn * clip / (gn + 1e-6) if 0 < clip < gn else gn
    m_norm = np.sqrt(sum(float(np.sum(m.astype(np.float64) ** 2)) for _, m, _ in t.values()))
    m_norm /= float(f32(1) - f32(B1))
    rel = abs(m_norm - seen) / seen
    print("run %s: grad_norm %.9f, clip %g -> expected %.9f, ||m||/(1-b1) %.9f (rel %.1e)" % (name, gn, clip, seen, m_norm, rel))
    assert rel <= 1e-6, "run %s: the gradient AdamW saw has norm %r, expected %r" % (name, m_norm, seen)
    # Betas: v / m^2 = (1-b2) / (1-b1)^2 wherever m is not tiny.
    ratio_want = float(f32(1) - f32(B2)) / float(f32(1) - f32(B1)) ** 2
    errs = []
    for m, v in ((m, v) for _, m, v in t.values()):
        k = np.abs(m) > 1e-15
        errs.append(np.max(np.abs(v[k].astype(np.float64) / m[k].astype(np.float64) ** 2 / ratio_want - 1), initial=0))
    worst["betas " + name] = max(errs)
    # eps, bias correction, lr: tensors that start at 0 or 1 (no weight decay) move by exactly the
    # Adam step, bit for bit; the same formula with the default eps 1e-8 is far off.
    step_sq = other_sq = 0.0
    for k, (p, m, v) in t.items():
        if zero_init(k) or one_init(k):
            p0 = f32(1) if one_init(k) else f32(0)
            want = p0 - adam_delta(m, v, EPS)
            assert np.array_equal(p, want), "run %s: %s after step 1 is not p0 - Adam step: max diff %g" % (
                name, k, np.max(np.abs(p - want)))
            step_sq += float(np.sum((p.astype(np.float64) - p0) ** 2))
            other_sq += float(np.sum((adam_delta(m, v, 1e-8).astype(np.float64) - (p0 - p)) ** 2))
    moved = np.sqrt(other_sq / step_sq)
    assert moved > 1e-2, "eps %g barely changes the update (%g): the eps check has no power" % (EPS, moved)
    print("run %s: biases and LayerNorm weights = p0 - lr m^/(sqrt(v^) + eps) bit for bit (with eps 1e-8 "
          "the step would differ by %.0f%% of its norm)" % (name, 100 * moved))
for k, w in worst.items():
    print("%s: max rel error of v/m^2 against (1-b2)/(1-b1)^2 = %.4g: %.1e" % (k, ratio_want, w))
    assert w <= 1e-5, k

# Run A clipped (its norm was above CLIP) and B did not (its norm was above the default clip 1.0,
# so an ignored --clip-grad 0 shows).
(ra, _), (rb, tb), (rc, tc) = runs["A"], runs["B"], runs["C"]
assert ra["grad_norm"] > 1.01 * CLIP, "run A's gradient norm %r is not above --clip-grad %g" % (ra["grad_norm"], CLIP)
assert rb["grad_norm"] > 1.01, "run B's gradient norm %r is not above the default clip 1" % rb["grad_norm"]

# Weight decay: B and C saw the same gradient (same m and v, bit for bit); only decayed tensors
# differ, by p1(C) - p1(B) = lr wd p0, with p0 = p1(C) + Adam step (C has no decay).
assert rb["grad_norm"] == rc["grad_norm"]
num = den = 0.0
for k in tb:
    (pb, mb, vb), (pc, mc, vc) = tb[k], tc[k]
    assert np.array_equal(mb, mc) and np.array_equal(vb, vc), "%s: runs B and C saw different gradients" % k
    if zero_init(k) or one_init(k):
        assert np.array_equal(pb, pc), "%s: a bias or LayerNorm weight was decayed" % k
        continue
    p0 = pc.astype(np.float64) + adam_delta(mc, vc, EPS).astype(np.float64)
    want = LR * WD * p0
    num += float(np.sum((pc.astype(np.float64) - pb - want) ** 2))
    den += float(np.sum(want ** 2))
rel = np.sqrt(num / den)
print("weight decay: p1(wd 0) - p1(wd %g) = lr wd p0 over every decayed tensor, rel error %.1e" % (WD, rel))
assert rel <= 1e-5, rel
