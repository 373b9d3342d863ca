"""Checks a glm3d quantized checkpoint against docs/checkpoint.md "Quantized weights" and the
reference formulas, computed here in numpy from the float checkpoint it was made from:

  quantize_format.py FLOAT.h5 QUANT.h5 int8|int4|nf4

int8/int4 (ChatGLM-6B quantization.py): weight_scale = float16(absmax_row / (2^(bits-1) - 1)),
q = round-half-even(W / scale) (numpy's round is half to even, as torch.round), int4 packed two
per byte with the even column in the high nibble: the stored arrays equal these bit for bit.
nf4: the stored state dequantizes (quant_map[code] * (nested_quant_map[absmax] *
nested_absmax[b // 256] + nested_offset), float32) to within half the largest gap between NF4
levels times the block's absmax of W. Every other tensor is the float checkpoint's, unchanged.
"""
import sys

import h5py
import numpy as np

MATS = ["attention.query_key_value.weight", "attention.dense.weight", "mlp.dense_h_to_4h.weight",
        "mlp.dense_4h_to_h.weight"]


def main(float_path, quant_path, kind):
    fl, q = h5py.File(float_path, "r"), h5py.File(quant_path, "r")
    assert q.attrs["kind"] == b"quantized" and q.attrs["quantization"].decode() == kind
    layers = int(q["config"].attrs["num_layers"])
    checked = 0
    matrices = {"layers.%d.%s" % (l, m) for l in range(layers) for m in MATS}
    for name in fl["params"]:
        if name in matrices:
            W = fl["params/" + name][...].astype(np.float32)
            d = q["params/" + name]
            assert d.attrs["quant"].decode() == kind and list(d.attrs["shape"]) == list(W.shape), name
            if kind in ("int8", "int4"):
                check_rowwise(W, d, q["params/" + name[: -len(".weight")] + ".weight_scale"], kind, name)
            else:
                check_nf4(W, q, name)
            checked += 1
        else:
            assert q["params/" + name].dtype == np.float32, name
            assert np.array_equal(fl["params/" + name][...], q["params/" + name][...]), name
    assert checked == 4 * layers, checked
    print("ok: %s: %d matrices match the reference formulas, float tensors unchanged" % (kind, checked))


def check_rowwise(W, d, s, kind, name):
    bits = 8 if kind == "int8" else 4
    qmax = 2 ** (bits - 1) - 1
    scale = (np.abs(W).max(axis=1) / np.float32(qmax)).astype(np.float16)
    assert s.dtype == np.float16 and np.array_equal(s[...].view(np.uint16), scale.view(np.uint16)), name
    qv = np.round(W / scale.astype(np.float32)[:, None]).astype(np.int8)
    stored = d[...]
    assert stored.dtype == np.int8, name
    if bits == 8:
        assert stored.shape == W.shape and np.array_equal(stored, qv), name
    else:
        u = qv.astype(np.uint8) & 15
        packed = ((u[:, 0::2] << 4) | u[:, 1::2]).astype(np.uint8).view(np.int8)
        assert stored.shape == (W.shape[0], W.shape[1] // 2) and np.array_equal(stored, packed), name


def check_nf4(W, q, name):
    g = q["params"]
    codes = g[name][...]
    assert codes.dtype == np.uint8 and codes.shape == (W.size // 2,), name
    c = np.empty(W.size, np.uint8)
    c[0::2], c[1::2] = codes >> 4, codes & 15
    qmap = g[name + ".quant_map"][...]
    d = g[name]
    assert d.attrs["blocksize"] == 64 and d.attrs["nested_blocksize"] == 256, name
    nested = g[name + ".nested_quant_map"][...][g[name + ".absmax"][...]]
    blocks = np.arange(nested.size) // 256
    absmax = (nested * g[name + ".nested_absmax"][...][blocks]).astype(np.float32) + np.float32(d.attrs["nested_offset"])
    deq = (qmap[c] * np.repeat(absmax, 64)[: W.size]).astype(np.float32)
    flat = W.reshape(-1)
    true_absmax = np.abs(np.pad(flat, (0, (-flat.size) % 64)).reshape(-1, 64)).max(axis=1)
    half_gap = np.diff(np.sort(qmap)).max() / 2
    # The block absmax itself is stored with 8-bit double quantization: allow its error too.
    bound = np.repeat(true_absmax * half_gap + np.abs(absmax - true_absmax), 64)[: W.size]
    assert np.all(np.abs(deq - flat) <= bound * (1 + 1e-6) + 1e-7), name


if __name__ == "__main__":
    main(*sys.argv[1:])
