"""Checks of tests/train/finetune_peft.sh, with the standard library, numpy and h5py only (no torch,
safetensors or peft): PEFT's files read with json + struct, glm3d checkpoints with h5py.

  peft_check.py export PEFTDIR FTCKPT.h5      keys, shapes, config fields, values == the checkpoint's
  peft_check.py layer0 PEFTDIR OUTDIR           the adapter of layer 0 only (layers_to_transform [0])
  peft_check.py merged MERGED.h5 BASE.h5 FTCKPT.h5   W' = W + (alpha / r) B A on the adapted linears,
                                                     every other tensor equal to the base's
"""
import json, os, struct, sys

import h5py
import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"])
    return meta, out


def peft_key(name):  # glm3d "layers.0.attention.query_key_value.lora_A.weight" (GLM / ChatGLM-6B names)
    return "base_model.model.transformer." + name


def export(peft_dir, ckpt):
    cfg = json.load(open(peft_dir + "/adapter_config.json"))
    f = h5py.File(ckpt, "r")
    a = f.attrs
    want = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "bias": "none", "fan_in_fan_out": False,
            "r": int(a["lora_r"]), "lora_alpha": float(a["lora_alpha"]), "lora_dropout": float(a["lora_dropout"])}
    for k, v in want.items():
        assert cfg[k] == v, (k, cfg[k], v)
    assert sorted(cfg["target_modules"]) == ["dense_4h_to_h", "query_key_value"], cfg["target_modules"]
    assert cfg["base_model_name_or_path"], "base_model_name_or_path is empty"
    meta, t = read_safetensors(peft_dir + "/adapter_model.safetensors")
    assert meta == {"format": "pt"}, meta
    names = sorted(f["params"].keys())
    assert sorted(t) == sorted(peft_key(n) for n in names), (sorted(t)[:3], names[:3])
    for n in names:
        ref = f["params"][n][...]
        assert t[peft_key(n)].shape == ref.shape, (n, t[peft_key(n)].shape, ref.shape)
        assert np.array_equal(t[peft_key(n)], ref), n
    assert np.abs(t[peft_key("layers.0.attention.query_key_value.lora_B.weight")]).max() > 0, "B never trained"
    r = cfg["r"]
    print("PEFT export: %d tensors, keys such as %s %s, values equal to the checkpoint's" %
          (len(t), peft_key(names[0]), list(t[peft_key(names[0])].shape)))
    assert t[peft_key("layers.0.attention.query_key_value.lora_A.weight")].shape == (r, 64)
    assert t[peft_key("layers.0.attention.query_key_value.lora_B.weight")].shape == (192, r)


def merged(merged_path, base_path, ckpt):
    m, b, f = h5py.File(merged_path, "r"), h5py.File(base_path, "r"), h5py.File(ckpt, "r")
    kind = m.attrs["kind"]
    assert (kind.decode() if isinstance(kind, bytes) else kind) == "weights", kind
    s = float(f.attrs["lora_alpha"]) / float(f.attrs["lora_r"])
    adapted = {n[: -len(".lora_A.weight")] + ".weight" for n in f["params"] if n.endswith(".lora_A.weight")}
    worst = 0.0
    for name in sorted(b["params"]):
        w, w2 = b["params"][name][...].astype(np.float64), m["params"][name][...].astype(np.float64)
        if name not in adapted:
            assert np.array_equal(w, w2), name + " changed but is not adapted"
            continue
        stem = name[: -len(".weight")]
        A = f["params"][stem + ".lora_A.weight"][...].astype(np.float64)
        B = f["params"][stem + ".lora_B.weight"][...].astype(np.float64)
        delta = s * B @ A
        assert np.abs(delta).max() > 1e-6, name + ": the adapter does not change it"
        err = np.abs(w2 - (w + delta)).max() / np.abs(w + delta).max()
        worst = max(worst, err)
        assert err < 1e-6, (name, err)
    print("merged: %d linears W + %g B A (max rel err %.1e), the other tensors equal the base's" %
          (len(adapted), s, worst))


def layer0(src, dst):
    os.makedirs(dst, exist_ok=True)
    cfg = json.load(open(src + "/adapter_config.json"))
    cfg["layers_to_transform"] = [0]
    json.dump(cfg, open(dst + "/adapter_config.json", "w"), indent=2, sort_keys=True)
    meta, t = read_safetensors(src + "/adapter_model.safetensors")
    keep = sorted(k for k in t if ".layers.0." in k)
    header, blobs, off = {"__metadata__": meta}, [], 0
    for k in keep:
        b = t[k].astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(t[k].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    with open(dst + "/adapter_model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


if __name__ == "__main__":
    {"export": export, "merged": merged, "layer0": layer0}[sys.argv[1]](*sys.argv[2:])
