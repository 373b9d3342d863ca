"""A small ChatGLM-6B-family model for tests/ckpt/chatglm_roundtrip.sh, and the checks.

  chatglm_fixture.py make DIR                 config.json + three safetensors shards (F16, BF16,
                                              F32 tensors), q/k/v interleaved per head, tied
                                              lm_head, a rotary inv_freq buffer
  chatglm_fixture.py check-import FILE.h5     every tensor of the imported glm3d checkpoint (read
                                              with h5dump) equals the fixture's values, element
                                              by element; query_key_value mismatches are named
                                              by (head, q|k|v, dim)
  chatglm_fixture.py check-export DIR DTYPE [ROUNDED]
                                              every tensor of a ChatGLM export equals the fixture
                                              rounded to DTYPE (f32: exact; bf16, f16: round to
                                              nearest, ties to even), compared bit for bit.
                                              ROUNDED=bf16: the values were already rounded to
                                              bf16 once (an export of glm3d's bf16 weights)

The values are exact in their storage dtype; the F32 tensors hold, every 5th element, a value
halfway between two bf16 numbers and, next to it, one halfway between two f16 numbers, so
round-to-nearest-even differs from truncation and from ties-away-from-zero on known elements.
"""
import glob
import json
import os
import struct
import subprocess
import sys
import tempfile

H, L, NH, V, F = 32, 2, 4, 300, 64
HD = H // NH
NAMES = [("transformer.word_embeddings.weight", [V, H])]
for _l in range(L):
    _p = "transformer.layers.%d." % _l
    NAMES += [(_p + "input_layernorm.weight", [H]), (_p + "input_layernorm.bias", [H]),
              (_p + "attention.query_key_value.weight", [3 * H, H]), (_p + "attention.query_key_value.bias", [3 * H]),
              (_p + "attention.dense.weight", [H, H]), (_p + "attention.dense.bias", [H]),
              (_p + "post_attention_layernorm.weight", [H]), (_p + "post_attention_layernorm.bias", [H]),
              (_p + "mlp.dense_h_to_4h.weight", [F, H]), (_p + "mlp.dense_h_to_4h.bias", [F]),
              (_p + "mlp.dense_4h_to_h.weight", [H, F]), (_p + "mlp.dense_4h_to_h.bias", [H])]
NAMES += [("transformer.final_layernorm.weight", [H]), ("transformer.final_layernorm.bias", [H])]
DTYPES = ["F16", "BF16", "F32"]  # tensor t is stored in DTYPES[t % 3]


def f32_bits(v):
    return struct.unpack("<I", struct.pack("<f", v))[0]


def from_bits(u):
    return struct.unpack("<f", struct.pack("<I", u))[0]


def bf16_rne(v):  # bf16 bits of the f32 value v, round to nearest even
    u = f32_bits(v)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF


def f16_rne(v):  # f16 bits; CPython packs 'e' rounding to nearest, ties to even
    return struct.unpack("<H", struct.pack("<e", v))[0]


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def values(t):
    """Tensor t's values, exactly representable in its storage dtype."""
    name, shape = NAMES[t]
    dtype, out = DTYPES[t % 3], []
    for i in range(numel(shape)):
        v = ((i * 7919 + t * 104729) % 2001 - 1000) / 1000 * 0.08 + (1.0 if "layernorm.weight" in name else 0)
        if dtype == "F16":
            v = struct.unpack("<e", struct.pack("<e", v))[0]
        elif dtype == "BF16":
            v = from_bits(((f32_bits(v) + 0x8000) >> 16) << 16)
        else:
            u = f32_bits(v)
            if i % 5 == 1:
                u = (u & ~0xFFFF) | 0x8000  # a bf16 tie
            elif i % 5 == 2:
                u = (u & ~0x1FFF) | 0x1000  # an f16 tie (for |v| in f16's normal range)
            v = from_bits(u)
        out.append(v)
    return out


def encode(dtype, vals):
    if dtype == "F16":
        return struct.pack("<%de" % len(vals), *vals)
    if dtype == "F32":
        return struct.pack("<%df" % len(vals), *vals)
    return b"".join(struct.pack("<H", f32_bits(v) >> 16) for v in vals)


def make(out):
    os.makedirs(out)
    shards = {d: [] for d in DTYPES}
    for t, (name, shape) in enumerate(NAMES):
        shards[DTYPES[t % 3]].append((name, shape, encode(DTYPES[t % 3], values(t))))
    for k, dtype in enumerate(DTYPES):
        items = shards[dtype]
        if k == 0:  # the tied LM head (the embedding's bytes) and a rotary buffer glm3d recomputes
            items.append(("lm_head.weight", NAMES[0][1], items[0][2]))
        header, blobs, off = {}, [], 0
        for name, shape, b in items:
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(b)]}
            blobs.append(b)
            off += len(b)
        if k == 0:
            header["transformer.layers.0.attention.rotary_emb.inv_freq"] = {
                "dtype": "F32", "shape": [4], "data_offsets": [off, off + 16]}
            blobs.append(struct.pack("<4f", 1, 0.1, 0.01, 0.001))
        h = json.dumps(header).encode()
        h += b" " * (-len(h) % 8)
        with open(os.path.join(out, "model-%05d-of-00003.safetensors" % (k + 1)), "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    json.dump({"architectures": ["ChatGLMModel"], "model_type": "chatglm", "hidden_size": H, "num_layers": L,
               "num_attention_heads": NH, "vocab_size": V, "inner_hidden_size": F, "layernorm_epsilon": 1e-5,
               "max_sequence_length": 32, "position_encoding_2d": True, "bos_token_id": 290,
               "eos_token_id": 291, "mask_token_id": 292, "gmask_token_id": 293, "pad_token_id": 3,
               "torch_dtype": "float16"}, open(os.path.join(out, "config.json"), "w"))


def where(name, shape, i):
    """An element's place; query_key_value rows as [head][q|k|v][head_dim]."""
    if "query_key_value" not in name:
        return "[%d]" % i
    row, col = (i // shape[1], i % shape[1]) if len(shape) == 2 else (i, None)
    h, b, d = row // (3 * HD), "qkv"[row // HD % 3], row % HD
    return "[%d%s] (head %d, %s block, dim %d)" % (row, "" if col is None else ", %d" % col, h, b, d)


def compare(name, got, want, what):
    shape = dict(NAMES)[name] if name != "lm_head.weight" else NAMES[0][1]
    assert len(got) == len(want), "%s: %d elements, expected %d" % (name, len(got), len(want))
    bad = [i for i in range(len(want)) if got[i] != want[i]]
    assert not bad, "%s: %d of %d elements differ (%s), first at %s: %r, expected %r" % (
        name, len(bad), len(want), what, where(name, shape, bad[0]), got[bad[0]], want[bad[0]])


def check_import(h5):
    with tempfile.TemporaryDirectory() as tmp:
        for t, (name, shape) in enumerate(NAMES):
            raw = os.path.join(tmp, "t.bin")
            subprocess.run(["h5dump", "-d", "/params/" + name[len("transformer."):], "-b", "LE", "-o", raw, h5],
                           check=True, stdout=subprocess.DEVNULL)
            b = open(raw, "rb").read()
            compare(name, list(struct.unpack("<%df" % (len(b) // 4), b)), values(t), "imported f32 values")
    qkv = [n for n, _ in NAMES if "query_key_value.weight" in n]
    print("  import: %d tensors equal the fixture element by element (%s: %d heads x q|k|v x %d dims)"
          % (len(NAMES), ", ".join(qkv), NH, HD))


def read_export(d):
    out = {}
    for fn in sorted(glob.glob(d + "/*.safetensors")):
        raw = open(fn, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        for name, t in json.loads(raw[8:8 + n]).items():
            if name != "__metadata__":
                out[name] = (t["dtype"], t["shape"], raw[8 + n + t["data_offsets"][0]: 8 + n + t["data_offsets"][1]])
    return out


def check_export(d, dtype, rounded):
    got = read_export(d)
    want_names = sorted([n for n, _ in NAMES] + ["lm_head.weight"])
    assert sorted(got) == want_names, set(got) ^ set(want_names)
    st = {"f32": "F32", "bf16": "BF16", "f16": "F16"}[dtype]
    stats = {"elements": 0, "rounded": 0, "ties down": 0, "ties up": 0, "up, not a tie": 0}
    for name in want_names:
        t = 0 if name == "lm_head.weight" else [n for n, _ in NAMES].index(name)
        src = values(t)
        if rounded == "bf16":
            src = [from_bits(bf16_rne(v) << 16) for v in src]
        dt, shape, b = got[name]
        assert dt == st and shape == NAMES[t][1], (name, dt, shape)
        if dtype == "f32":
            compare(name, list(struct.unpack("<%df" % len(src), b)), src, "f32 values")
            continue
        bits = list(struct.unpack("<%dH" % len(src), b))
        want = [bf16_rne(v) if dtype == "bf16" else f16_rne(v) for v in src]
        compare(name, bits, want, dtype + " bits, round to nearest even")
        for v, w in zip(src, want):
            back = from_bits(w << 16) if dtype == "bf16" else struct.unpack("<e", struct.pack("<H", w))[0]
            low = f32_bits(v) & (0xFFFF if dtype == "bf16" else 0x1FFF)
            tie = low == (0x8000 if dtype == "bf16" else 0x1000) and abs(v) >= 2.0 ** -14
            stats["elements"] += 1
            stats["rounded"] += back != v
            if tie:
                stats["ties up" if abs(back) > abs(v) else "ties down"] += 1
            elif abs(back) > abs(v):
                stats["up, not a tie"] += 1
    if dtype != "f32" and rounded is None:
        # Tells round-to-nearest-even from truncation (up, not a tie), from ties away from zero
        # (ties down) and from ties toward zero (ties up).
        assert min(stats["ties down"], stats["ties up"], stats["up, not a tie"]) > 50, stats
    print("  export %s%s: %d tensors match bit for bit; %s" % (
        dtype, " (of bf16 weights)" if rounded else "", len(want_names), stats if dtype != "f32" else "exact"))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2])
    elif cmd == "check-import":
        check_import(sys.argv[2])
    elif cmd == "check-export":
        check_export(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        sys.exit("unknown command " + cmd)
