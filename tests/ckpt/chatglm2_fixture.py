"""A random ChatGLM2/3-shaped model written as Hugging Face would, and the checks of its import
and export (run with Debian's /usr/bin/python3: numpy, h5py).

  chatglm2_fixture.py make DIR SEED [SIZE] [--chatglm3] [--bf16] [--tokenizer PIECES] [--drop NAME]
                     [--extra NAME] [--inv-freq-base B]
      config.json (the released config.json's fields), model.safetensors.index.json and three
      shards, tensor t stored as F16, BF16 or F32 (t % 3; all BF16 with --bf16), the rotary
      inv_freq buffer in F32 (F16 with --bf16, as released). SIZE: tiny (2 layers, hidden 64, 4 heads, 2 groups, ffn 48, vocab
      128: tiny-glm2's shape), mb64 (largest tensor 64 MiB in f32) or gb1 (about 1 GB of BF16,
      largest tensor 256 MiB in f32). --chatglm3: rope_ratio 2. --tokenizer: a tokenizer.model
      of PIECES pieces (a SentencePiece model written by hand). Bad inputs: --drop leaves a tensor
      out (of its shard and the index), --extra adds one, --inv-freq-base writes the rotary buffer
      of another base. F32 tensors hold, every 5th element, a value halfway between
      two bf16 numbers and, next to it, one halfway between two f16 numbers, so round-to-nearest-
      even differs from truncation and from ties away from zero on known elements.
  chatglm2_fixture.py check-import DIR FILE.h5
      every glm3d tensor equals the fixture's element by element (bf16/f16 widened exactly), the
      config group and the special tokens are ChatGLM2's
  chatglm2_fixture.py check-export DIR OUT DTYPE
      OUT (an export) has the fixture's tensor names, shapes, an index naming each tensor's shard,
      every tensor in DTYPE holding the fixture's value rounded to nearest even (bit for bit), and
      config.json equal to the fixture's field by field (torch_dtype: DTYPE's)
  chatglm2_fixture.py samples DIR FILE.h5 N SEQ SEED     random tokens as a glm3d sample file
  chatglm2_fixture.py check-logits DIR SAMPLES.h5 EVAL.h5
      the eval logits equal a float64 numpy forward pass of the fixture (modeling_chatglm.py's
      semantics: RMSNorm, [Q|K|V] with key/value groups, RoPE on the first half of each head as
      interleaved pairs, causal softmax, SwiGLU, untied output layer)
  chatglm2_fixture.py largest DIR            bytes of the largest tensor in f32
"""
import glob
import json
import os
import struct
import sys

import h5py
import numpy as np

SIZES = {  # layers, hidden, heads, groups, ffn, vocab
    "tiny": (2, 64, 4, 2, 48, 128),
    "mb64": (2, 256, 4, 2, 512, 65536),
    "gb1": (13, 1024, 8, 2, 8192, 65536),
}


def config(size, chatglm3):
    L, H, NH, G, F, V = SIZES[size]
    c = {"_name_or_path": "THUDM/chatglm3-6b" if chatglm3 else "THUDM/chatglm2-6b", "model_type": "chatglm",
         "architectures": ["ChatGLMModel"], "add_bias_linear": False, "add_qkv_bias": True,
         "apply_query_key_layer_scaling": True, "apply_residual_connection_post_layernorm": False,
         "attention_dropout": 0.0, "attention_softmax_in_fp32": True, "bias_dropout_fusion": True,
         "ffn_hidden_size": F, "fp32_residual_connection": False, "hidden_dropout": 0.0, "hidden_size": H,
         "kv_channels": H // NH, "layernorm_epsilon": 1e-05, "multi_query_attention": True,
         "multi_query_group_num": G, "num_attention_heads": NH, "num_layers": L, "original_rope": True,
         "padded_vocab_size": V, "post_layer_norm": True, "rmsnorm": True, "seq_length": 32, "use_cache": True,
         "torch_dtype": "float16", "tie_word_embeddings": False, "eos_token_id": 2, "pad_token_id": 0}
    if chatglm3:
        c["rope_ratio"] = 2.0
    return c


def tensors(cfg):
    """(HF name, glm3d name, shape) in glm3d's file order; inv_freq last (glm3d name None)."""
    L, H, NH, G, F, V = (cfg[k] for k in ("num_layers", "hidden_size", "num_attention_heads",
                                          "multi_query_group_num", "ffn_hidden_size", "padded_vocab_size"))
    hd = H // NH
    out = [("transformer.embedding.word_embeddings.weight", "word_embeddings.weight", [V, H])]
    for l in range(L):
        p, g = "transformer.encoder.layers.%d." % l, "layers.%d." % l
        out += [(p + "input_layernorm.weight", g + "input_layernorm.weight", [H]),
                (p + "self_attention.query_key_value.weight", g + "attention.query_key_value.weight",
                 [(NH + 2 * G) * hd, H]),
                (p + "self_attention.query_key_value.bias", g + "attention.query_key_value.bias", [(NH + 2 * G) * hd]),
                (p + "self_attention.dense.weight", g + "attention.dense.weight", [H, H]),
                (p + "post_attention_layernorm.weight", g + "post_attention_layernorm.weight", [H]),
                (p + "mlp.dense_h_to_4h.weight", g + "mlp.dense_h_to_4h.weight", [2 * F, H]),
                (p + "mlp.dense_4h_to_h.weight", g + "mlp.dense_4h_to_h.weight", [H, F])]
    out += [("transformer.encoder.final_layernorm.weight", "final_layernorm.weight", [H]),
            ("transformer.output_layer.weight", "output_layer.weight", [V, H]),
            ("transformer.rotary_pos_emb.inv_freq", None, [hd // 4])]
    return out


def inv_freq(cfg):
    dim = cfg["hidden_size"] // cfg["num_attention_heads"] // 2
    return (1.0 / 10000.0 ** (np.arange(0, dim, 2, dtype=np.float64) / dim)).astype(np.float32)


def bf16_bits(v):  # f32 -> bf16 bits, round to nearest even
    u = np.ascontiguousarray(v, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def values(seed, t, name, shape, dtype, cfg):
    """Tensor t's f32 values, exactly representable in its storage dtype."""
    if name.endswith("inv_freq") and "inv_freq_base" in cfg:  # a wrong buffer (bad-input tests)
        dim = cfg["hidden_size"] // cfg["num_attention_heads"] // 2
        return (1.0 / cfg["inv_freq_base"] ** (np.arange(0, dim, 2) / dim)).astype(np.float32)
    if name.endswith("inv_freq"):
        return inv_freq(cfg).astype(np.float16).astype(np.float32) if dtype == "F16" else inv_freq(cfg)
    rng = np.random.default_rng([seed, t])
    v = (rng.standard_normal(int(np.prod(shape)), dtype=np.float32) * 0.05).astype(np.float32)
    if "layernorm" in name:
        v += 1.0
    if dtype == "F16":
        v = v.astype(np.float16).astype(np.float32)
    elif dtype == "BF16":
        v = from_bf16(bf16_bits(v))
    else:
        u = v.view(np.uint32)
        u[1::5] = (u[1::5] & ~np.uint32(0xFFFF)) | np.uint32(0x8000)  # a bf16 tie
        u[2::5] = (u[2::5] & ~np.uint32(0x1FFF)) | np.uint32(0x1000)  # an f16 tie (in f16's normal range)
    return v.reshape(shape)


def encode(dtype, v):
    if dtype == "F16":
        return v.astype("<f2").tobytes()
    if dtype == "BF16":
        return bf16_bits(v).astype("<u2").tobytes()
    return v.astype("<f4").tobytes()


def stored_dtype(t, name, bf16_only):
    if name.endswith("inv_freq"):  # as released (F16) in the bf16 fixtures; exactly glm3d's value otherwise
        return "F16" if bf16_only else "F32"
    return "BF16" if bf16_only else ["F16", "BF16", "F32"][t % 3]


def write_shard(path, items, seed, cfg):
    """items: (t, name, shape, dtype); data written one tensor at a time."""
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for t, name, shape, dtype in items:
        n = int(np.prod(shape)) * (4 if dtype == "F32" else 2)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for t, name, shape, dtype in items:
            f.write(encode(dtype, values(seed, t, name, shape, dtype, cfg)))


def varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def tokenizer_model(pieces):
    """A SentencePiece ModelProto (protobuf, written by hand) of `pieces` pieces: <unk>, <s>, </s>
    and single letters: ChatGLM2/3 number their special tokens after the piece count."""
    def piece(text, score, kind):  # SentencePiece {piece = 1, score = 2, type = 3}
        t = text.encode()
        return b"\x0a" + varint(len(t)) + t + b"\x15" + struct.pack("<f", score) + b"\x18" + varint(kind)
    items = [piece("<unk>", 0.0, 2), piece("<s>", 0.0, 3), piece("</s>", 0.0, 3)]
    items += [piece(chr(0x4E00 + i), -float(i + 1), 1) for i in range(pieces - 3)]
    return b"".join(b"\x0a" + varint(len(p)) + p for p in items)


def meta(d):
    m = json.load(open(os.path.join(d, "fixture.json")))
    return m["seed"], m["bf16"], json.load(open(os.path.join(d, "config.json")))


def make(out, seed, size, chatglm3, bf16_only, tokenizer_pieces=None, drop=None, extra=None, inv_base=None):
    os.makedirs(out)
    if tokenizer_pieces:
        open(os.path.join(out, "tokenizer.model"), "wb").write(tokenizer_model(tokenizer_pieces))
    cfg = config(size, chatglm3)
    if inv_base:
        cfg["inv_freq_base"] = inv_base
    items = [(t, hf, shape, stored_dtype(t, hf, bf16_only)) for t, (hf, _, shape) in enumerate(tensors(cfg))
             if hf != drop]
    if extra:  # a tensor no ChatGLM2 model has
        items.append((len(items), extra, [4], "F32"))
    shards = [[], [], []]  # F16 | BF16 | F32 (with --bf16: thirds of the list)
    for k, it in enumerate(items):
        shards[k * 3 // len(items) if bf16_only else ["F16", "BF16", "F32"].index(it[3])].append(it)
    weight_map = {}
    for k, sh in enumerate(shards):
        fn = "model-%05d-of-00003.safetensors" % (k + 1)
        write_shard(os.path.join(out, fn), sh, seed, cfg)
        weight_map.update({name: fn for _, name, _, _ in sh})
    cfg.pop("inv_freq_base", None)
    total = sum(int(np.prod(s)) * (4 if d == "F32" else 2) for _, _, s, d in items)
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
              open(os.path.join(out, "model.safetensors.index.json"), "w"), indent=2)
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
    json.dump({"seed": seed, "bf16": bf16_only}, open(os.path.join(out, "fixture.json"), "w"))


def fixture_values(d):
    seed, bf16_only, cfg = meta(d)
    for t, (hf, g, shape) in enumerate(tensors(cfg)):
        yield hf, g, values(seed, t, hf, shape, stored_dtype(t, hf, bf16_only), cfg)


def first_diff(got, want):
    bad = np.flatnonzero(got.reshape(-1).view(np.uint32) != want.reshape(-1).view(np.uint32))
    return None if bad.size == 0 else (bad.size, int(bad[0]))


def check_import(d, h5):
    _, _, cfg = meta(d)
    f = h5py.File(h5, "r")
    n = 0
    for hf, g, want in fixture_values(d):
        if g is None:
            continue
        got = f["params/" + g][...].astype(np.float32)
        assert got.shape == want.shape, (g, got.shape, want.shape)
        diff = first_diff(got, want)
        assert diff is None, "%s: %d elements differ, first at flat index %d: %r, expected %r" % (
            g, diff[0], diff[1], got.reshape(-1)[diff[1]], want.reshape(-1)[diff[1]])
        n += 1
    c = dict(f["config"].attrs)
    want_cfg = {"num_layers": cfg["num_layers"], "hidden": cfg["hidden_size"], "num_heads": cfg["num_attention_heads"],
                "ffn_hidden": cfg["ffn_hidden_size"], "vocab": cfg["padded_vocab_size"], "seq_len": cfg["seq_length"],
                "kv_groups": cfg["multi_query_group_num"], "qkv_bias": 1, "linear_bias": 0, "tie_embeddings": 0,
                "norm": "rmsnorm", "residual": "prenorm", "mask": "causal", "rope": "half-interleaved",
                "ffn": "swiglu", "rope_base": 10000.0 * cfg.get("rope_ratio", 1.0), "ln_eps": 1e-5}
    for k, v in want_cfg.items():
        got = c[k].decode() if isinstance(c[k], bytes) else c[k]
        assert got == v, "config %s: %r, expected %r" % (k, got, v)
    special = {k: int(v) for k, v in f["special_tokens"].attrs.items()}
    assert special["eos"] == 2 and special["pad"] == 0, special
    print("  import: %d tensors equal the fixture element by element; config %s; special tokens %s"
          % (n, want_cfg, special))


def read_safetensors(d):
    out = {}
    for fn in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
        with open(fn, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            base = 8 + n
            for name, t in header.items():
                if name == "__metadata__":
                    continue
                f.seek(base + t["data_offsets"][0])
                raw = f.read(t["data_offsets"][1] - t["data_offsets"][0])
                out[name] = (os.path.basename(fn), t["dtype"], t["shape"], raw)
    return out


def check_export(d, out, dtype):
    _, _, cfg = meta(d)
    got = read_safetensors(out)
    names = [hf for hf, _, _ in tensors(cfg)]
    assert sorted(got) == sorted(names), set(got) ^ set(names)
    index_path = os.path.join(out, "model.safetensors.index.json")
    if os.path.exists(index_path):
        wm = json.load(open(index_path))["weight_map"]
        assert wm == {n: got[n][0] for n in names}, "index weight_map does not name each tensor's shard"
    st = {"f32": "F32", "bf16": "BF16", "f16": "F16"}[dtype]
    ties = {"up": 0, "down": 0}
    for hf, _, want in fixture_values(d):
        if hf.endswith("inv_freq"):
            want = inv_freq(cfg)  # glm3d writes its own value (it keeps no copy)
        _, dt, shape, raw = got[hf]
        assert dt == st and shape == list(want.shape), (hf, dt, shape, want.shape)
        w = want.reshape(-1)
        if dtype == "f32":
            bits, expect = np.frombuffer(raw, "<u4"), w.view(np.uint32)
        elif dtype == "bf16":
            bits, expect = np.frombuffer(raw, "<u2"), bf16_bits(w)
        else:  # numpy's float16 cast rounds to nearest even
            bits, expect = np.frombuffer(raw, "<u2"), w.astype(np.float16).view(np.uint16)
        bad = np.flatnonzero(bits != expect)
        assert bad.size == 0, "%s: %d of %d elements differ from the %s rounding, first at %d: %#x, expected %#x" % (
            hf, bad.size, w.size, dtype, bad[0], bits[bad[0]], expect[bad[0]])
        if dtype == "bf16":  # ties resolved both ways: not truncation, not ties-away
            low = w.view(np.uint32) & 0xFFFF
            tie = low == 0x8000
            up = (expect.astype(np.uint32) << 16) > (w.view(np.uint32) & ~np.uint32(0xFFFF))
            ties["up"] += int(np.sum(tie & up))
            ties["down"] += int(np.sum(tie & ~up))
    if dtype == "bf16":
        assert min(ties.values()) > 0, ties
    want_cfg, got_cfg = dict(cfg), json.load(open(os.path.join(out, "config.json")))
    want_cfg["torch_dtype"] = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[dtype]
    for k, v in want_cfg.items():
        assert k in got_cfg and got_cfg[k] == v, "config.json %s: %r, expected %r" % (k, got_cfg.get(k), v)
    print("  export %s: %d tensors, names/shapes/index as the fixture, values bit for bit%s; config.json "
          "equal on all %d fields" % (dtype, len(names), " (bf16 ties %s)" % ties if dtype == "bf16" else "",
                                      len(want_cfg)))


def samples(d, path, n, seq, seed):
    _, _, cfg = meta(d)
    rng = np.random.default_rng(seed)
    tok = rng.integers(0, cfg["padded_vocab_size"], size=(n, seq), dtype=np.int32)
    with h5py.File(path, "w") as f:
        f["tokens"] = tok
        f["targets"] = np.roll(tok, -1, axis=1)
        f["position_ids"] = np.tile(np.arange(seq, dtype=np.int32), (n, 1))
        f["block_position_ids"] = np.zeros((n, seq), np.int32)
        f["loss_mask"] = np.ones((n, seq), np.int32)
        f["sep"] = np.full(n, seq, np.int32)


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, pos, base):
    """x [N, S, heads, hd]: the first hd/2 dims rotated as pairs (2i, 2i+1) by pos * base^(-2i/(hd/2))."""
    hd = x.shape[-1]
    rot = hd // 2
    theta = base ** (-np.arange(0, rot, 2, dtype=np.float64) / rot)  # [rot/2]
    ang = pos[:, :, None, None] * theta  # [N, S, 1, rot/2]
    c, s = np.cos(ang), np.sin(ang)
    x = x.copy()
    x0, x1 = x[..., 0:rot:2].copy(), x[..., 1:rot:2].copy()
    x[..., 0:rot:2] = x0 * c - x1 * s
    x[..., 1:rot:2] = x1 * c + x0 * s
    return x


def forward(W, cfg, tokens):
    L, H, NH, G, F = (cfg[k] for k in ("num_layers", "hidden_size", "num_attention_heads",
                                       "multi_query_group_num", "ffn_hidden_size"))
    hd, eps, base = H // NH, cfg["layernorm_epsilon"], 10000.0 * cfg.get("rope_ratio", 1.0)
    N, S = tokens.shape
    pos = np.tile(np.arange(S, dtype=np.float64), (N, 1))
    x = W["word_embeddings.weight"][tokens]  # [N, S, H]
    causal = np.triu(np.full((S, S), -np.inf), 1)
    for l in range(L):
        p = lambda s: W["layers.%d.%s" % (l, s)]
        h = rmsnorm(x, p("input_layernorm.weight"), eps)
        qkv = h @ p("attention.query_key_value.weight").T + p("attention.query_key_value.bias")
        q = rope(qkv[..., :NH * hd].reshape(N, S, NH, hd), pos, base)
        k = rope(qkv[..., NH * hd:(NH + G) * hd].reshape(N, S, G, hd), pos, base)
        v = qkv[..., (NH + G) * hd:].reshape(N, S, G, hd)
        k, v = np.repeat(k, NH // G, axis=2), np.repeat(v, NH // G, axis=2)  # head h uses group h // (NH / G)
        sc = np.einsum("nqhd,nkhd->nhqk", q, k) / np.sqrt(hd) + causal
        pr = np.exp(sc - sc.max(-1, keepdims=True))
        pr /= pr.sum(-1, keepdims=True)
        ctx = np.einsum("nhqk,nkhd->nqhd", pr, v).reshape(N, S, H)
        x = x + ctx @ p("attention.dense.weight").T
        u = rmsnorm(x, p("post_attention_layernorm.weight"), eps) @ p("mlp.dense_h_to_4h.weight").T
        a = u[..., :F] / (1 + np.exp(-u[..., :F])) * u[..., F:]  # silu(first half) * second half
        x = x + a @ p("mlp.dense_4h_to_h.weight").T
    return rmsnorm(x, W["final_layernorm.weight"], eps) @ W["output_layer.weight"].T


def check_logits(d, samples_path, eval_path):
    _, _, cfg = meta(d)
    W = {g: v.astype(np.float64) for _, g, v in fixture_values(d) if g is not None}
    tokens = h5py.File(samples_path, "r")["tokens"][...]
    want = forward(W, cfg, tokens)
    got = h5py.File(eval_path, "r")["logits"][...].astype(np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    err = np.abs(got - want).max() / np.abs(want).max()
    print("  eval logits %s vs float64 numpy forward of the fixture: max |diff| / max |logit| = %.2e"
          % (list(got.shape), err))
    assert err < 1e-5, err


def largest(d):
    _, _, cfg = meta(d)
    print(max(int(np.prod(s)) for _, _, s in tensors(cfg)) * 4)


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "make":
        make(a[2], int(a[3]), a[4] if len(a) > 4 and not a[4].startswith("--") else "tiny", "--chatglm3" in a,
             "--bf16" in a, int(a[a.index("--tokenizer") + 1]) if "--tokenizer" in a else None,
             a[a.index("--drop") + 1] if "--drop" in a else None, a[a.index("--extra") + 1] if "--extra" in a else None,
             float(a[a.index("--inv-freq-base") + 1]) if "--inv-freq-base" in a else None)
    elif a[1] == "check-import":
        check_import(a[2], a[3])
    elif a[1] == "check-export":
        check_export(a[2], a[3], a[4])
    elif a[1] == "samples":
        samples(a[2], a[3], int(a[4]), int(a[5]), int(a[6]))
    elif a[1] == "check-logits":
        check_logits(a[2], a[3], a[4])
    elif a[1] == "largest":
        largest(a[2])
    else:
        sys.exit("unknown command " + a[1])
