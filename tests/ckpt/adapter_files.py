#!/usr/bin/python3
# Reads and writes PEFT LoRA adapters and P-tuning v2 checkpoints with the Python standard
# library only (json + struct; no torch, safetensors or peft package), so the files glm3d writes
# are checked by an independent reader and glm3d is fed files written the way PEFT writes them.
#
#   adapter_files.py check-peft DIR LAYERS IN OUT R     keys, shapes, dtype, metadata, config, values
#   adapter_files.py write-peft DIR LAYERS IN OUT R [--bad-shape|--extra-key|--missing-key]
#   adapter_files.py check-ptuning DIR SHAPES_JSON      keys, shapes, values
#   adapter_files.py write-ptuning DIR SHAPES_JSON
# Values: element i of the t-th tensor in sorted key order is ((7 t + i) % 97 - 48) / 16, exact
# in F32 and F16 (both sides compute it).
import json, os, struct, sys

FMT = {"F32": ("f", 4), "F16": ("e", 2)}


def value(t, i):
    return ((7 * t + i) % 97 - 48) / 16.0


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    tensors = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        code, size = FMT[e["dtype"]]
        count = (end - b) // size
        tensors[name] = (e["dtype"], e["shape"], struct.unpack("<%d%s" % (count, code), data[b:end]))
    return meta, tensors


def write_safetensors(path, tensors, dtype, meta):
    code, size = FMT[dtype]
    header, blobs, off = {"__metadata__": meta}, [], 0
    for name, (shape, vals) in tensors.items():  # insertion order, as given
        blob = struct.pack("<%d%s" % (len(vals), code), *vals)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def peft_shapes(layers, fin, fout, r):
    shapes = {}
    for l in range(layers):
        base = "base_model.model.transformer.layers.%d.attention.query_key_value" % l
        shapes[base + ".lora_A.weight"] = [r, fin]
        shapes[base + ".lora_B.weight"] = [fout, r]
    return shapes


def check_values(tensors, shapes):
    assert sorted(tensors) == sorted(shapes), "keys %s, expected %s" % (sorted(tensors), sorted(shapes))
    for t, name in enumerate(sorted(shapes)):
        dtype, shape, vals = tensors[name]
        assert shape == shapes[name], "%s: shape %s, expected %s" % (name, shape, shapes[name])
        want = [value(t, i) for i in range(numel(shape))]
        assert list(vals) == want, "%s: values differ" % name


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd in ("check-peft", "write-peft"):
        layers, fin, fout, r = (int(x) for x in sys.argv[3:7])
        shapes = peft_shapes(layers, fin, fout, r)
    else:
        shapes = json.loads(sys.argv[3])
    if cmd == "check-peft":
        cfg = json.load(open(os.path.join(d, "adapter_config.json")))
        assert cfg["peft_type"] == "LORA" and cfg["r"] == r and cfg["lora_alpha"] == 16, cfg
        assert cfg["target_modules"] == ["query_key_value"] and cfg["bias"] == "none", cfg
        assert cfg["task_type"] == "CAUSAL_LM" and cfg["fan_in_fan_out"] is False, cfg
        assert open(os.path.join(d, "adapter_config.json")).read() == json.dumps(cfg, indent=2, sort_keys=True)
        meta, tensors = read_safetensors(os.path.join(d, "adapter_model.safetensors"))
        assert meta == {"format": "pt"}, meta
        assert all(t[0] == "F32" for t in tensors.values())
        check_values(tensors, shapes)
    elif cmd == "write-peft":
        os.makedirs(d, exist_ok=True)
        flag = sys.argv[7] if len(sys.argv) > 7 else ""
        cfg = {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "THUDM/chatglm-6b",
               "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
               "layers_pattern": None, "layers_to_transform": None, "lora_alpha": 32, "lora_dropout": 0.1,
               "modules_to_save": None, "peft_type": "LORA", "r": r, "rank_pattern": {}, "revision": None,
               "target_modules": ["query_key_value"], "task_type": "CAUSAL_LM", "use_dora": False,
               "use_rslora": False}
        open(os.path.join(d, "adapter_config.json"), "w").write(json.dumps(cfg, indent=2, sort_keys=True))
        out = {}
        for t, name in enumerate(sorted(shapes)):
            shape = list(shapes[name])
            if flag == "--bad-shape" and t == 1:
                shape[0] += 1
            out[name] = (shape, [value(t, i) for i in range(numel(shape))])
        if flag == "--extra-key":
            out["base_model.model.transformer.layers.0.attention.query_key_value.lora_embedding_A"] = ([1], [0.0])
        if flag == "--missing-key":
            del out[sorted(shapes)[-1]]
        # PEFT's order: module by module, A before B (reversed here to show order does not matter).
        write_safetensors(os.path.join(d, "adapter_model.safetensors"), dict(reversed(list(out.items()))), "F16",
                          {"format": "pt"})
    elif cmd == "check-ptuning":
        meta, tensors = read_safetensors(os.path.join(d, "model.safetensors"))
        cfg = json.load(open(os.path.join(d, "config.json")))
        assert "pre_seq_len" in cfg and "prefix_projection" in cfg, cfg
        check_values(tensors, shapes)
    elif cmd == "write-ptuning":
        os.makedirs(d, exist_ok=True)
        out = {name: (shapes[name], [value(t, i) for i in range(numel(shapes[name]))])
               for t, name in enumerate(sorted(shapes))}
        write_safetensors(os.path.join(d, "model.safetensors"), out, "F32", {"format": "pt"})
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
