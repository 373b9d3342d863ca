"""Writes the quantization golden file read by tests/core/test_quant_golden.cpp.

Run through make_quant_golden.sh (a venv with torch, bitsandbytes, h5py, numpy). Two parts:

  nf4/<case>      bitsandbytes.functional.quantize_4bit(A, blocksize=64, quant_type="nf4") on the
                  CPU, with compress_statistics False and True, and dequantize_4bit. Dataset
                  names are those of a glm3d quantized checkpoint (docs/checkpoint.md), which are
                  bitsandbytes' own QuantState.as_dict() names.
  chatglm/<case>  ChatGLM-6B quantization.py's formulas, in torch: per-row scale
                  (absmax / (2^(bits-1) - 1)).half(), torch.round (half to even) of W / scale,
                  int4 packed two per byte with the even column in the high nibble (the layout
                  of its compress_int4_weight kernel).

Every random input is drawn from a fixed torch seed, so a rerun with the same versions writes
the same numbers.
"""

import argparse
import json
import platform

import bitsandbytes
import bitsandbytes.functional as bnbf
import h5py
import numpy as np
import torch

BLOCK = 64
NESTED_BLOCK = 256


def put(group, name, array):
    array = np.ascontiguousarray(array)
    # Large arrays chunked with shuffle+gzip; small ones contiguous (a chunk index costs ~2 KB).
    big = dict(compression="gzip", compression_opts=9, shuffle=True) if array.nbytes > 4096 else {}
    group.create_dataset(name, data=array, track_times=False, **big)


def nf4_case(root, name, A, note, plain_values=True):
    """A: float32 tensor whose numel is even. Writes one nf4/<name> group."""
    g = root.create_group(name)
    g.attrs["note"] = note
    # Inputs on the float16 grid are stored as float16 (half the bytes; exact in float32).
    put(g, "input", A.half().numpy() if torch.equal(A.half().float(), A) else A.numpy())
    shape = list(A.shape)

    packed, plain = bnbf.quantize_4bit(A, blocksize=BLOCK, compress_statistics=False, quant_type="nf4")
    packed2, nested = bnbf.quantize_4bit(A, blocksize=BLOCK, compress_statistics=True, quant_type="nf4")
    assert torch.equal(packed, packed2), "double quantization changed the 4-bit codes"

    put(g, "weight", packed.reshape(-1).numpy())
    g["weight"].attrs["shape"] = np.array(shape, dtype=np.int64)
    g["weight"].attrs["blocksize"] = BLOCK
    g["weight"].attrs["nested_blocksize"] = nested.state2.blocksize
    g["weight"].attrs["nested_offset"] = np.float32(nested.offset.item())
    put(g, "weight.quant_map", plain.code.numpy())
    put(g, "weight.absmax", nested.absmax.numpy())  # uint8 codes of absmax - offset
    put(g, "weight.nested_absmax", nested.state2.absmax.numpy())
    put(g, "weight.nested_quant_map", nested.state2.code.numpy())
    put(g, "plain_absmax", plain.absmax.numpy())  # without double quantization: f32 absmax

    # Dequantized values as codes x absmax, each in float32 the way dequantize_4bit computes
    # them (the absmax of the nested state is code2[q] * absmax2 + offset).
    flat = packed.reshape(-1)
    codes = torch.stack([flat >> 4, flat & 15], dim=1).reshape(-1).long()[: A.numel()]
    block_of = torch.arange(A.numel()) // BLOCK
    nested_absmax = bnbf.dequantize_blockwise(nested.absmax, nested.state2) + nested.offset
    formula_plain = (plain.code[codes] * plain.absmax[block_of]).reshape(A.shape)
    formula_nested = (plain.code[codes] * nested_absmax[block_of]).reshape(A.shape)

    if A.shape[-1] % BLOCK == 0:
        deq_plain = bnbf.dequantize_4bit(packed, plain)
        deq_nested = bnbf.dequantize_4bit(packed, nested)
        assert torch.equal(deq_plain, formula_plain), f"{name}: dequantize_4bit != codes x absmax"
        assert torch.equal(deq_nested, formula_nested), f"{name}: nested dequantize_4bit != formula"
        g.attrs["dequantized_by"] = "bitsandbytes.functional.dequantize_4bit (equal to codes x absmax)"
    else:
        g.attrs["dequantized_by"] = "codes x absmax in torch float32 (last dim not a multiple of 64)"
    if plain_values:
        put(g, "dequantized_plain", formula_plain.numpy())
    put(g, "dequantized", formula_nested.numpy())
    return codes


def nf4_tie_input():
    """Blocks whose scaled values are exact ties between adjacent NF4 codes, code values
    themselves, their neighbours one ulp away, and the six float32 points where
    bitsandbytes 0.50's midpoint search and the nearest-code argmin disagree."""
    code = bnbf.get_4bit_type("nf4", device="cpu").numpy().astype(np.float32)
    vals = []
    for i in range(15):
        lo, hi = np.float32(code[i]), np.float32(code[i + 1])
        mid64 = (np.float64(lo) + np.float64(hi)) / 2
        mid32 = np.float32(mid64)
        if np.float64(mid32) == mid64:  # an exact tie exists in float32
            vals += [mid32, np.nextafter(mid32, np.float32(-2)), np.nextafter(mid32, np.float32(2))]
        fl_mid = np.float32(np.float32(lo + hi) / np.float32(2))  # 0.50's float32 midpoint
        vals += [fl_mid, np.nextafter(fl_mid, np.float32(-2)), np.nextafter(fl_mid, np.float32(2))]
    vals += list(code)
    vals = np.array(vals, dtype=np.float32)
    n = -(-len(vals) // (BLOCK - 1)) * (BLOCK - 1)
    rest = np.linspace(-0.99, 0.99, n - len(vals), dtype=np.float32)
    vals = np.concatenate([vals, rest]).reshape(-1, BLOCK - 1)
    # Each block starts with 1.0, so absmax = 1 and the scaled value is the input itself;
    # a second copy scaled by 2 (absmax 2, exact power of two) checks the scaling.
    blocks = np.concatenate([np.ones((vals.shape[0], 1), np.float32), vals], axis=1)
    both = np.concatenate([blocks, 2 * blocks]).reshape(-1, 2 * BLOCK)
    return torch.from_numpy(both.copy())


def f16_grid(t):
    return t.half().float()


def make_nf4(f):
    root = f.create_group("nf4")
    gen = torch.Generator().manual_seed(1234)
    nf4_case(root, "w16x128", f16_grid(0.02 * torch.randn(16, 128, generator=gen)),
             "weights-like normal, std 0.02; 32 blocks, one partial double-quant block")
    t = torch.distributions.StudentT(torch.tensor(3.0))
    torch.manual_seed(99)
    heavy = f16_grid(0.05 * t.sample((68, 256)))
    nf4_case(root, "w68x256", heavy,
             "Student-t(3) tails; 272 blocks, double-quant blocks of 256 and 16", plain_values=False)
    nf4_case(root, "odd_17x60", f16_grid(torch.randn(17, 60, generator=gen)),
             "blocks straddle rows, last block of 60; dequantized from codes x absmax", plain_values=False)
    nf4_case(root, "ties", nf4_tie_input(),
             "exact ties between adjacent codes (must go to the lower index) and near-ties")
    zero = torch.cat([torch.zeros(1, BLOCK), torch.randn(1, BLOCK, generator=gen)], dim=1)
    codes = nf4_case(root, "zero_block", zero, "an all-zero block (bitsandbytes: absmax 0 -> NaN)")
    root["zero_block"].attrs["bnb_zero_block_code"] = int(codes[0])


def chatglm_quantize(W, bits):
    """ChatGLM-6B QuantizedLinear.__init__ semantics on a float32 weight [out, in]."""
    scale = (W.abs().max(dim=-1).values / ((2 ** (bits - 1)) - 1)).half()
    q = torch.round(W / scale[:, None]).to(torch.int8)  # float32 / float16 -> float32
    assert q.abs().max() <= 2 ** (bits - 1) - 1
    if bits == 8:
        return q, q, scale
    u = q.to(torch.uint8)  # compress_int4_weight: (w[2j] << 4) | (w[2j+1] & 15), as bytes
    packed = ((u[:, 0::2] << 4) | (u[:, 1::2] & 15)).view(torch.int8)
    high = packed >> 4  # arithmetic shifts of signed bytes, as its extraction kernel
    low = ((packed.to(torch.uint8) << 4).view(torch.int8)) >> 4
    assert torch.equal(torch.stack([high, low], dim=2).reshape(q.shape), q), "int4 pack round trip"
    return packed, q, scale


def chatglm_weight(bits, gen):
    rows, cols = 24, 64
    qmax = 2 ** (bits - 1) - 1
    W = torch.randn(rows, cols, generator=gen) * torch.pow(10.0, torch.empty(rows, 1).uniform_(-2, 1, generator=gen))
    # Ties: row absmax qmax * 2^-e makes the float16 scale exactly 2^-e, and (k + 1/2) 2^-e
    # are exact halves after the division: torch.round sends them to the even neighbour.
    for r, e in ((0, 7), (1, 3)):
        k = torch.arange(cols, dtype=torch.float32) % (2 * qmax) - qmax  # -qmax .. qmax-1
        W[r] = (k + 0.5) * 2.0 ** -e
        W[r, 0] = qmax * 2.0 ** -e
        if r == 1:
            W[r] = -W[r]
    W[2] = torch.randn(cols, generator=gen) * 1e-3  # a float16-subnormal scale
    return W


def make_chatglm(f):
    root = f.create_group("chatglm")
    gen = torch.Generator().manual_seed(4321)
    for bits in (8, 4):
        W = chatglm_weight(bits, gen)
        stored, q, scale = chatglm_quantize(W, bits)
        g = root.create_group(f"int{bits}")
        g.attrs["bits"] = bits
        put(g, "input", W.numpy())
        put(g, "weight", stored.numpy())
        put(g, "weight_scale", scale.numpy())  # float16, as ChatGLM stores it
        put(g, "q", q.numpy())
        put(g, "dequantized", (q.float() * scale.float()[:, None]).numpy())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    # v110: readable by the HDF5 1.10 the C++ side links, with its smaller chunk indexes.
    with h5py.File(args.out, "w", libver=("v110", "v110"), track_order=True) as f:
        f.attrs["made_by"] = "tools/golden/make_quant_golden.sh"
        f.attrs["versions"] = json.dumps({
            "bitsandbytes": bitsandbytes.__version__, "torch": torch.__version__,
            "numpy": np.__version__, "h5py": h5py.__version__, "python": platform.python_version(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()})
        make_nf4(f)
        make_chatglm(f)
    print("versions:", bitsandbytes.__version__, torch.__version__)


if __name__ == "__main__":
    main()
