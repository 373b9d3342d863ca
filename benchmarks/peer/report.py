"""The table of benchmarks/peer/run.sh, from the raw outputs in OUT (standard library only).

  python report.py benchmarks/peer/out

FLOPs per token are glm3d's own (model/config.cpp training_flops_per_token), read back from
its metrics: mfu = flops_per_token * tokens_per_s / (peak_tflops * 1e12). The same count is
used for PyTorch, which runs the same model.
"""
import json
import re
import sys
from pathlib import Path

TARGET_BF16_RATIO = 1.7   # glm3d bf16 tokens/s over PyTorch bf16 autocast
TARGET_BF16_OF_MM = 0.60  # glm3d bf16 model FLOP/s over the bf16 matmul rate (plain layouts)
TARGET_F32_RATIO = 1.75   # glm3d f32 tokens/s over PyTorch f32


def kv_file(path):
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            k, _, v = line.partition(" ")
            out[k] = v
    return out


def matmul_rates(paths):
    # kind -> ([GFLOP/s per file], impl); kinds f32 NN, bf16 NN, bf16 NT, bf16<-f32 NT.
    rates = {}
    for path in paths:
        if not path.exists() or not path.read_text().strip():
            continue
        for b in json.loads(path.read_text())["benchmarks"]:
            words = b.get("label", "").split()
            kind, impl = " ".join(words[:2]), " ".join(words[2:])
            rates.setdefault(kind, ([], impl))[0].append(b["FLOP/s"] / 1e9)
    return rates


def glm3d_result(out, prec, warmup):
    path = out / f"glm3d_{prec}.jsonl"
    if not path.exists():
        return None
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    settings = next((r["settings"] for r in recs if "settings" in r), {})
    timed = [r for r in recs if r["step"] > warmup]
    if not timed:
        return None
    tokens = sum(r["tokens"] for r in timed)
    secs = sum(r["step_time_s"] for r in timed)
    r0 = timed[0]
    fpt = r0["mfu"] * settings["peak_tflops"] * 1e12 / r0["tokens_per_s"]
    log = (out / f"glm3d_{prec}.log").read_text(errors="replace")
    m = re.search(r"([\d.]+)M params", log + settings.get("model", ""))
    return {"tokens_per_s": tokens / secs, "flops_per_token": fpt, "loss0": recs[0]["loss"],
            "loss1": recs[-1]["loss"], "precision": settings.get("precision", "?"),
            "params_m": float(m.group(1)) if m else None, "step_times": [r["step_time_s"] for r in recs],
            "attention": settings.get("attention", "")}


def torch_result(out, prec):
    path = out / f"torch_{prec}.json"
    text = path.read_text().strip() if path.exists() else ""
    return json.loads(text.splitlines()[-1]) if text else None


def verbose_impls(out):
    # ONEDNN_VERBOSE exec lines (onednn_verbose,exec,cpu,PRIM,IMPL,...,SHAPES,MS) -> per
    # (primitive, implementation, input dtype): [calls, total ms]; and the step time it printed.
    path = out / "glm3d_verbose.log"
    stats, step_s = {}, None
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            f = line.split(",")
            if len(f) > 6 and f[1] == "exec" and f[2] == "cpu":
                dtype = re.search(r"src_(\w+?):", line)
                key = f"{f[3]} {f[4]} ({dtype.group(1) if dtype else '?'})"
                s = stats.setdefault(key, [0, 0.0])
                s[0] += 1
                s[1] += float(f[-1])
    metrics = out / "glm3d_verbose.jsonl"
    if metrics.exists() and metrics.read_text().strip():
        step_s = json.loads(metrics.read_text().splitlines()[0])["step_time_s"]
    return stats, step_s


def verdict(value, target):
    return "PASS" if value is not None and value >= target else "MISS"


def fmt(x, spec):
    return format(x, spec) if x is not None else "-"


def main():
    out = Path(sys.argv[1])
    env = kv_file(out / "env.txt")
    load = kv_file(out / "load.txt")
    warmup = int(env.get("warmup", "2"))
    mm = matmul_rates([out / "matmul_before.json", out / "matmul_after.json"])
    mean = lambda v: sum(v) / len(v) if v else None
    g = {p: glm3d_result(out, p, warmup) for p in ("f32", "bf16")}
    t = {p: torch_result(out, p) for p in ("f32", "bf16")}
    fpt = next((r["flops_per_token"] for r in g.values() if r), None)
    mm_f32 = mean(mm.get("f32 NN", ([],))[0])
    mm_bf16 = mean(mm.get("bf16 NN", ([],))[0])
    L = []
    L.append(f"glm3d vs PyTorch, one run, {env.get('date', '?')}")
    L.append(f"CPU: {env.get('cpu', '?')} (AMX bf16: {'yes' if env.get('cpu_flags_amx') == 'amx_bf16' else 'no'})"
             f"; {env.get('threads', '?')} threads (OMP_NUM_THREADS, torch.set_num_threads)")
    L.append(f"glm3d {env.get('glm3d_commit', '?')}; torch {env.get('torch', '?')} "
             f"({env.get('torch_libs', '?')})")
    L.append("model: 8 layers, hidden 1024, 16 heads, GeLU FFN 4096, vocab 32000, seq 512, batch 4 "
             f"(benchmarks/peer/reference.ini); {env.get('warmup', '?')} warm-up + {env.get('steps', '?')} "
             "timed steps each")
    tp = next((r["params"] for r in t.values() if r), None)
    gp = next((r["params_m"] for r in g.values() if r and r["params_m"]), None)
    same = tp is not None and gp is not None and abs(tp / 1e6 - gp) < 0.01
    L.append(f"parameters: glm3d {fmt(gp, '.2f')}M, PyTorch {fmt(tp and tp / 1e6, '.6f')}M "
             f"({'equal' if same else 'DIFFER'})")
    L.append(f"training FLOPs per token (glm3d's training_flops_per_token, used for both): "
             f"{fmt(fpt and fpt / 1e9, '.4f')} GFLOP")
    L.append("")
    L.append("matmul 2048^3 through glm3d's gemm (core/cpu/matmul.h)  GFLOP/s: before, after, mean  oneDNN impl")
    for kind, (rates, impl) in mm.items():
        L.append(f"  {kind:<56}{'  '.join(f'{r:5.0f}' for r in rates)}  {mean(rates):5.0f}  {impl}")
    L.append("")
    L.append(f"{'training step (fwd+bwd+clip+AdamW)':<38}{'tokens/s':>9}{'GFLOP/s':>9}"
             f"{'% f32 mm':>10}{'% bf16 mm':>10}  loss first->last")
    rows = [("glm3d f32", g["f32"], "glm3d"), ("PyTorch f32", t["f32"], "torch"),
            ("glm3d bf16", g["bf16"], "glm3d"), ("PyTorch bf16 autocast", t["bf16"], "torch")]
    gflops = {}
    for name, r, side in rows:
        if not r:
            L.append(f"  {name:<36}   failed or missing (see out/)")
            continue
        tps = r["tokens_per_s"]
        gf = tps * fpt / 1e9 if fpt else None
        gflops[name] = gf
        losses = (r["loss0"], r["loss1"]) if side == "glm3d" else (r["losses"][0], r["losses"][-1])
        L.append(f"  {name:<36}{tps:9.1f}{fmt(gf, '9.1f')}"
                 f"{fmt(gf and mm_f32 and 100 * gf / mm_f32, '9.1f')}%"
                 f"{fmt(gf and mm_bf16 and 100 * gf / mm_bf16, '9.1f')}%  {losses[0]:.3f} -> {losses[1]:.3f}")
    L.append("")
    ratio = {p: (g[p]["tokens_per_s"] / t[p]["tokens_per_s"] if g[p] and t[p] else None)
             for p in ("f32", "bf16")}
    of_mm = gflops.get("glm3d bf16") / mm_bf16 if gflops.get("glm3d bf16") and mm_bf16 else None
    L.append("targets (ratios within this run)")
    L.append(f"  glm3d bf16 / PyTorch bf16 tokens/s     {fmt(ratio['bf16'], '6.2f')}x   >= {TARGET_BF16_RATIO}x   "
             f"{verdict(ratio['bf16'], TARGET_BF16_RATIO)}")
    L.append(f"  glm3d bf16 GFLOP/s / bf16 matmul (NN)  {fmt(of_mm and 100 * of_mm, '6.1f')}%   >= "
             f"{100 * TARGET_BF16_OF_MM:.0f}%    {verdict(of_mm, TARGET_BF16_OF_MM)}")
    L.append(f"  glm3d f32 / PyTorch f32 tokens/s       {fmt(ratio['f32'], '6.2f')}x   >= {TARGET_F32_RATIO}x  "
             f"{verdict(ratio['f32'], TARGET_F32_RATIO)}")
    L.append("")
    for p in ("f32", "bf16"):
        if t[p]:
            L.append(f"PyTorch {p} attention kernels: {', '.join(t[p]['attention'])}")
    for p in ("f32", "bf16"):
        if g[p]:
            st = ", ".join(f"{s:.2f}" for s in g[p]["step_times"])
            L.append(f"glm3d {p} ({g[p]['precision']}, attention {g[p]['attention']}) step times s: {st}")
        if t[p]:
            st = ", ".join(f"{s:.2f}" for s in t[p]["step_times_s"])
            L.append(f"PyTorch {p} step times s: {st}")
    impls, step_s = verbose_impls(out)
    if impls:
        L.append(f"oneDNN primitives of one glm3d bf16 step (ONEDNN_VERBOSE; that step took "
                 f"{fmt(step_s, '.1f')} s): " +
                 ", ".join(f"{k} x{n} {ms / 1e3:.1f} s" for k, (n, ms) in sorted(impls.items(), key=lambda kv: -kv[1][1])))
    chk = torch_result(out, "check") if (out / "torch_check.json").exists() else None
    if chk:
        L.append(f"PyTorch check ({len(chk['losses'])} steps, seq {chk['seq_len']}, batch {chk['batch']}, "
                 f"lr {chk['lr']}, random data): loss "
                 f"{chk['losses'][0]:.3f} -> {chk['losses'][-1]:.3f} ({'learns' if chk['learned'] else 'DOES NOT LEARN'}); "
                 f"params {chk['params']} vs glm3d's formula {chk['expected_params']}")
    L.append("load average (1 min) at the start of each phase: " +
             ", ".join(f"{k} {v}" for k, v in load.items()))
    print("\n".join(L))


if __name__ == "__main__":
    main()
