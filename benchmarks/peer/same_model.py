"""glm_block.py computes the same GLM as glm3d: from one glm3d checkpoint, glm3d's logits on
given samples equal glm_block.GLM's (run in f64), element by element.

  python same_model.py --glm3d build/glm3d --workdir /tmp/same    # one JSON line; exit 1 if not

A small model (benchmarks/peer/reference.ini's kind: GeLU FFN, 1D RoPE, tied head, DeepNorm) is
trained a few steps by `glm3d train --synthetic --save`, then `glm3d eval` runs it on a sample file
written here: random tokens, a random sep per sample (so the GLM mask differs per sample), and
position ids 0..S-1. Parameter names in the checkpoint are glm_block.GLM's state_dict keys.
"""
import argparse
import json
import subprocess
from pathlib import Path

import h5py
import torch
import torch.nn.functional as F

import glm_block

SMALL = dict(num_layers=2, hidden=128, num_heads=4, ffn_hidden=512, vocab=1000, seq_len=64)
STEPS = 5  # training steps before the comparison, so that weights move well away from init
TOLERANCE = 1e-5  # max |glm3d f32 - PyTorch f64| over the logits, relative to max |logit|


def run(cmd):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout


def write_samples(path, n, S, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, vocab, (n, S), generator=g, dtype=torch.int32)
    targets = torch.randint(0, vocab, (n, S), generator=g, dtype=torch.int32)
    sep = torch.randint(1, S, (n,), generator=g, dtype=torch.int32)
    pos = torch.arange(S, dtype=torch.int32).expand(n, S).contiguous()
    loss_mask = (pos >= sep[:, None]).to(torch.int32)
    with h5py.File(path, "w") as f:
        for name, t in (("tokens", tokens), ("position_ids", pos), ("block_position_ids", torch.zeros_like(pos)),
                        ("targets", targets), ("loss_mask", loss_mask), ("sep", sep)):
            f[name] = t.numpy()
    return tokens.long(), pos.long(), sep.long(), targets.long(), loss_mask.bool()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--glm3d", required=True, help="the glm3d binary")
    p.add_argument("--workdir", required=True)
    p.add_argument("--samples", type=int, default=3)
    a = p.parse_args()
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    ini = work / "small.ini"
    ini.write_text("[model]\n" + "".join(f"{k} = {v}\n" for k, v in SMALL.items()) + "ffn = gelu\nrope = 1d\n")
    run([a.glm3d, "train", "--model", ini, "--synthetic", "--global-batch", 2, "--micro-batch", 2, "--steps", STEPS,
         "--lr", 1e-2, "--warmup-steps", 0, "--save", work / "ckpt", "--quiet"])
    S, V = SMALL["seq_len"], SMALL["vocab"]
    tokens, pos, sep, targets, loss_mask = write_samples(work / "samples.h5", a.samples, S, V, seed=3)
    run([a.glm3d, "eval", "--load", work / "ckpt", "--samples", work / "samples.h5", "--out", work / "eval.h5"])

    model = glm_block.GLM(SMALL["num_layers"], SMALL["hidden"], SMALL["num_heads"], SMALL["ffn_hidden"], V).double()
    ckpt = sorted((work / "ckpt").glob("step_*.h5"))[-1]
    with h5py.File(ckpt, "r") as f:
        state = {k: torch.from_numpy(f["params"][k][...]).double() for k in f["params"].keys()}
    state["word_embeddings.weight"] = state["word_embeddings.weight"][:V]  # padded rows, if any
    model.load_state_dict(state)  # strict: every name and shape must match
    with h5py.File(work / "eval.h5", "r") as f:
        theirs = torch.from_numpy(f["logits"][...]).double()  # [N, S, V]
        their_loss = torch.from_numpy(f["loss"][...])
    with torch.no_grad():
        ours = model.logits(tokens, pos, glm_block.glm_mask(sep, S))
        masked = torch.where(loss_mask, targets, torch.full_like(targets, -100))
        our_loss = torch.stack([F.cross_entropy(ours[i], masked[i], ignore_index=-100) for i in range(len(sep))])
    diff = (ours - theirs).abs().max().item()
    scale = theirs.abs().max().item()
    same = diff <= TOLERANCE * scale
    print(json.dumps({"checkpoint": str(ckpt), "samples": a.samples, "sep": sep.tolist(),
                      "max_abs_diff": diff, "max_abs_logit": scale, "tolerance": TOLERANCE * scale,
                      "loss_glm3d": their_loss.tolist(), "loss_torch": our_loss.tolist(), "same": same}))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
