#!/usr/bin/python3
# Writes the HDF5 regression inputs that were made by hand rather than found by libFuzzer
# (tests/fuzz/regressions/README.md says which bug each one guards). Run by hand with Debian's
# python3-h5py, from the repository root:   /usr/bin/python3 tests/fuzz/make_h5_regressions.py
import os
import shutil
import struct
import zlib

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
reg = os.path.join(here, "regressions")
corpus = os.path.join(here, "corpus")


def out(target, name):
    os.makedirs(os.path.join(reg, target), exist_ok=True)
    return os.path.join(reg, target, name)


# A sample file whose tokens dataset declares 2^31 x 2^20 int32 (8 TiB) it never wrote: the reader
# sized its buffers by the dims (a 2 KB file asked for 8 TiB of Samples).
with h5py.File(out("sample_file", "declared-8-tib.h5"), "w") as f:
    f.create_dataset("tokens", shape=(2**31, 2**20), dtype="<i4")

# A checkpoint (the seed bf16 weights) whose config says 100000 layers: inspect and verify built the
# tensor list of that config and walked (and read_all allocated) tensors the file cannot hold.
path = out("ckpt", "config-larger-than-file.h5")
shutil.copy(os.path.join(corpus, "ckpt", "weights_bf16.h5"), path)
with h5py.File(path, "r+") as f:
    del f["config"].attrs["num_layers"]
    f["config"].attrs.create("num_layers", 100000, dtype="<i8")

# A token store shard (token_shard layout: u16 manifest length, manifest, shard) whose manifest
# says 2^64 - 1 documents and whose doc_offsets dataset is empty: n_docs + 1 wrapped to 0, the
# row counts "matched", and verify read offs.front() of an empty vector.
tokens = np.array([5, 6, 7, 2], dtype="<u4")
crc = zlib.crc32(tokens.tobytes())
shard = out("token_shard", "doc-count-wraps-empty-offsets.bin")
tmp = shard + ".h5"
sha = [l.split()[1] for l in open(os.path.join(corpus, "token_manifest", "prep.txt")) if l.startswith("tokenizer_sha256")][0]
with h5py.File(tmp, "w") as f:
    f.create_dataset("tokens", data=tokens)
    f.create_dataset("doc_offsets", shape=(0,), dtype="<u8")
    for k, v in [("format_version", 1), ("vocab_size", 400)]:
        f.attrs.create(k, v, dtype="<i8")
    f.attrs.create("tokenizer_sha256", np.bytes_(sha))
    for k, v in [("n_tokens", 4), ("n_docs", 2**64 - 1), ("tokens_crc32", crc), ("doc_offsets_crc32", 0)]:
        f.attrs.create(k, v, dtype="<u8")
manifest = ("format_version 1\nvocab_size 400\ntokenizer tokenizer.model\ntokenizer_sha256 %s\n"
            "total_tokens 4\nshard_count 1\nshard s.h5 4 18446744073709551615 0x%08x 0x00000000\n" % (sha, crc)).encode()
with open(shard, "wb") as o:
    o.write(struct.pack("<H", len(manifest)) + manifest + open(tmp, "rb").read())
os.remove(tmp)
