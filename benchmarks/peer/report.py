"""The table of benchmarks/peer/run.sh, from the raw outputs in OUT (standard library only).

  python report.py benchmarks/peer/out

tokens/s of a run = tokens of its timed steps / their summed step time (warm-up steps left out);
"best" = the fastest single timed step. On a shared machine other processes come and go within a
run, so the targets are judged on each side's best step against the best matmul repetition: the
measurements least disturbed. The mean-based ratios are printed beside them.
FLOPs per token are glm3d's own (model/config.cpp training_flops_per_token), read back from the
settings of its metrics (`flops_per_token`). PyTorch runs the same model, so the same count is used
for it. That count has the LM head on every token; glm3d runs its head on the tokens with loss only
(model/head_rows.h; `target_tokens` of its metrics), so the share of the matmul rate glm3d's step
reaches is judged on the FLOPs it executes: the count less 6 * hidden * vocab per token without loss.
"""
import configparser
import json
import re
import sys
from pathlib import Path

TARGET_BF16_RATIO = 1.7   # glm3d bf16 tokens/s over PyTorch bf16 autocast
TARGET_BF16_OF_MM = 0.60  # glm3d bf16 executed FLOP/s over the bf16 matmul rate (plain layouts)
TARGET_F32_RATIO = 1.75   # glm3d f32 tokens/s over PyTorch f32


def kv_file(path):
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            k, _, v = line.partition(" ")
            out[k] = v
    return out


def last_json(path):
    text = path.read_text().strip() if path.exists() else ""
    return json.loads(text.splitlines()[-1]) if text else None


def matmul_rates(paths):
    # kind -> ([best GFLOP/s of the repetitions, per file], impl); kinds f32 NN, bf16 NN, bf16 NT,
    # bf16<-f32 NT.
    rates = {}
    for i, path in enumerate(paths):
        text = path.read_text() if path.exists() else ""
        data = json.loads(text) if text.strip() else None
        for b in (data or {}).get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue  # mean/median/stddev aggregates of the repetitions
            words = b.get("label", "").split()
            kind, impl = " ".join(words[:2]), " ".join(words[2:])
            per_file = rates.setdefault(kind, ([0.0] * len(paths), impl))[0]
            per_file[i] = max(per_file[i], b["FLOP/s"] / 1e9)
    return rates


def timing(step_times, warmup, tokens_per_step):
    timed = step_times[warmup:]
    return {"tokens_per_s": tokens_per_step * len(timed) / sum(timed),
            "best_tokens_per_s": tokens_per_step / min(timed), "step_times": step_times}


def glm3d_run(out, prec, warmup):
    path = out / f"glm3d_{prec}.jsonl"
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    if len(recs) <= warmup:
        return None
    settings = next((r["settings"] for r in recs if "settings" in r), {})
    r = timing([x["step_time_s"] for x in recs], warmup, recs[0]["tokens"])
    r["flops_per_token"] = settings["flops_per_token"]
    tt = recs[-1].get("target_tokens")  # absent before the head ran on the tokens with loss only
    r["target_fraction"] = tt / recs[-1]["tokens"] if tt is not None else None
    r["losses"] = [x["loss"] for x in recs]
    r["compute_s"] = [x["compute_s"] for x in recs]
    r["settings"] = settings
    m = re.search(r"([\d.]+)M params", settings.get("model", ""))
    r["params_m"] = float(m.group(1)) if m else None
    return r


def head_flops_per_token():
    # 6 * hidden * vocab: the LM head's forward and two backward products, per token
    m = configparser.ConfigParser()
    m.read(Path(__file__).with_name("reference.ini"))
    return 6.0 * m.getint("model", "hidden") * m.getint("model", "vocab")


def executed_flops_per_token(r, fpt):
    # glm3d's FLOPs per token as executed: its head skips the tokens without loss
    f = r["target_fraction"]
    return fpt - head_flops_per_token() * (1.0 - f) if fpt and f is not None else fpt


def torch_run(out, prec, warmup):
    j = last_json(out / f"torch_{prec}.json")
    if not j:
        return None
    r = timing(j["step_times_s"], warmup, j["tokens_per_step"])
    r.update(losses=j["losses"], params=j["params"], attention=j["attention"])
    return r


def verbose_impls(out):
    # ONEDNN_VERBOSE exec lines (onednn_verbose,exec,cpu,PRIM,IMPL,...,SHAPES,MS) -> per
    # (primitive, implementation, input dtype): [calls, total ms]; and that step's time.
    path = out / "glm3d_verbose.log"
    stats = {}
    for line in (path.read_text(errors="replace").splitlines() if path.exists() else []):
        f = line.split(",")
        if len(f) > 6 and f[1] == "exec" and f[2] == "cpu":
            dtype = re.search(r"src_(\w+?):", line)
            s = stats.setdefault(f"{f[3]} {f[4]} ({dtype.group(1) if dtype else '?'})", [0, 0.0])
            s[0] += 1
            s[1] += float(f[-1])
    rec = last_json(out / "glm3d_verbose.jsonl")
    return stats, rec["step_time_s"] if rec else None


def fmt(x, spec):
    return format(x, spec) if x is not None else "-"


def verdict(value, target):
    return "PASS" if value is not None and value >= target else "MISS"


def header(env, g, t, fpt):
    tp = next((r["params"] for r in t.values() if r), None)
    gp = next((r["params_m"] for r in g.values() if r and r["params_m"]), None)
    same = tp is not None and gp is not None and abs(tp / 1e6 - gp) < 0.01
    amx = "yes" if env.get("cpu_flags_amx") == "amx_bf16" else "no"
    return [
        f"glm3d vs PyTorch, one run, {env.get('date', '?')}",
        f"CPU: {env.get('cpu', '?')} (AMX bf16: {amx}); {env.get('threads', '?')} threads "
        "(OMP_NUM_THREADS, torch.set_num_threads)",
        f"glm3d {env.get('glm3d_commit', '?')}; torch {env.get('torch', '?')} ({env.get('torch_libs', '?')})",
        f"PyTorch's C heap (GLIBC_TUNABLES): {env.get('torch_heap', '?')}; glm3d keeps freed memory itself "
        "(launch/heap_policy.h)",
        "model: 8 layers, hidden 1024, 16 heads, GeLU FFN 4096, vocab 32000, seq 512, batch 4 "
        f"(benchmarks/peer/reference.ini); {env.get('warmup', '?')} warm-up + {env.get('steps', '?')} "
        "timed steps each",
        f"parameters: glm3d {fmt(gp, '.2f')}M, PyTorch {fmt(tp and tp / 1e6, '.6f')}M "
        f"({'equal' if same else 'DIFFER'})",
        "training FLOPs per token (glm3d's training_flops_per_token, used for both): "
        f"{fmt(fpt and fpt / 1e9, '.4f')} GFLOP",
        ""]


def step_table(rows, fpt, mm_f32, mm_bf16):
    L = [f"{'step (fwd+bwd+clip+AdamW)':<30}{'tokens/s':>9}{'best':>8}{'GFLOP/s':>9}"
         f"{'% f32 mm':>10}{'% bf16 mm':>10}  loss first->last",
         f"{'':<30}{'mean':>9}{'step':>8}{'(best)':>9}{'(best)':>10}{'(best)':>10}"]
    for name, r in rows:
        if not r:
            L.append(f"  {name:<28}   failed or missing (see out/)")
            continue
        gf = r["best_tokens_per_s"] * fpt / 1e9 if fpt else None
        L.append(f"  {name:<28}{r['tokens_per_s']:9.1f}{r['best_tokens_per_s']:8.1f}{fmt(gf, '9.1f')}"
                 f"{fmt(gf and mm_f32 and 100 * gf / mm_f32, '9.1f')}%"
                 f"{fmt(gf and mm_bf16 and 100 * gf / mm_bf16, '9.1f')}%  "
                 f"{r['losses'][0]:.3f} -> {r['losses'][-1]:.3f}")
    return L


def targets(g, t, fpt, mm_bf16):
    def ratio(p, key):
        return g[p][key] / t[p][key] if g[p] and t[p] else None
    gb = g["bf16"]
    efpt = executed_flops_per_token(gb, fpt) if gb else None
    exec_gf = gb["best_tokens_per_s"] * efpt / 1e9 if gb and efpt else None
    of_mm = exec_gf / mm_bf16 if exec_gf and mm_bf16 else None
    bf, f32 = ratio("bf16", "best_tokens_per_s"), ratio("f32", "best_tokens_per_s")
    frac = gb and gb["target_fraction"]
    head = (f"glm3d runs its LM head on the tokens with loss only: {100 * frac:.1f}% of them here, so it executes "
            f"{fmt(efpt and efpt / 1e9, '.4f')} GFLOP per token of the {fmt(fpt and fpt / 1e9, '.4f')} counted "
            "above; PyTorch computes the logits of every token" if frac is not None else
            "glm3d's metrics have no target_tokens (a glm3d whose head runs on every token): executed = counted")
    return [
        "",
        head,
        f"  glm3d bf16 executed GFLOP/s (best step): {fmt(exec_gf, '.1f')}",
        "",
        "targets (within this run, best step vs best step; the ratio of the means in brackets)",
        f"  glm3d bf16 / PyTorch bf16 tokens/s     {fmt(bf, '6.2f')}x  "
        f"[{fmt(ratio('bf16', 'tokens_per_s'), '.2f')}x]   >= {TARGET_BF16_RATIO}x   {verdict(bf, TARGET_BF16_RATIO)}",
        f"  glm3d bf16 executed GFLOP/s / bf16 mm  {fmt(of_mm and 100 * of_mm, '6.1f')}%             >= "
        f"{100 * TARGET_BF16_OF_MM:.0f}%    {verdict(of_mm, TARGET_BF16_OF_MM)}",
        f"  glm3d f32 / PyTorch f32 tokens/s       {fmt(f32, '6.2f')}x  "
        f"[{fmt(ratio('f32', 'tokens_per_s'), '.2f')}x]   >= {TARGET_F32_RATIO}x  {verdict(f32, TARGET_F32_RATIO)}",
        ""]


def details(out, g, t):
    L = []
    for p in ("f32", "bf16"):
        if t[p]:
            L.append(f"PyTorch {p} attention kernels: {', '.join(t[p]['attention'])}")
    for p in ("f32", "bf16"):
        if g[p]:
            s = g[p]["settings"]
            L.append(f"glm3d {p} ({s.get('precision')}, attention {s.get('attention')}) step s (compute s): " +
                     ", ".join(f"{a:.2f} ({c:.2f})" for a, c in zip(g[p]["step_times"], g[p]["compute_s"])))
        if t[p]:
            L.append(f"PyTorch {p} step s: " + ", ".join(f"{a:.2f}" for a in t[p]["step_times"]))
    impls, step_s = verbose_impls(out)
    if impls:
        L.append(f"oneDNN primitives of one glm3d bf16 step (ONEDNN_VERBOSE; the step took {fmt(step_s, '.1f')} s): " +
                 ", ".join(f"{k} x{n} {ms / 1e3:.1f} s" for k, (n, ms) in
                           sorted(impls.items(), key=lambda kv: -kv[1][1])))
    same = last_json(out / "same_model.json")
    if same:
        L.append(f"same model: glm3d eval logits vs glm_block.py (f64) from one glm3d checkpoint, {same['samples']} "
                 f"samples, sep {same['sep']}: max |diff| {same['max_abs_diff']:.2e} (max |logit| "
                 f"{same['max_abs_logit']:.2f}, tolerance {same['tolerance']:.1e}): "
                 f"{'SAME' if same['same'] else 'DIFFERENT'}")
    else:
        L.append("same model: the check did not run (see out/same_model.err)")
    chk = last_json(out / "torch_check.json")
    if chk:
        L.append(f"PyTorch learns ({len(chk['losses'])} steps, seq {chk['seq_len']}, batch {chk['batch']}, "
                 f"lr {chk['lr']}, one random batch): loss {chk['losses'][0]:.3f} -> {chk['losses'][-1]:.3f} "
                 f"({'learns' if chk['learned'] else 'DOES NOT LEARN'}); params {chk['params']}, "
                 f"glm3d's formula {chk['expected_params']}")
    return L


def main():
    out = Path(sys.argv[1])
    env = kv_file(out / "env.txt")
    warmup = int(env.get("warmup", "2"))
    mm = matmul_rates([out / "matmul_before.json", out / "matmul_after.json"])
    g = {p: glm3d_run(out, p, warmup) for p in ("f32", "bf16")}
    t = {p: torch_run(out, p, warmup) for p in ("f32", "bf16")}
    fpt = next((r["flops_per_token"] for r in g.values() if r), None)
    mm_f32, mm_bf16 = (max(mm[k][0]) if k in mm else None for k in ("f32 NN", "bf16 NN"))
    L = header(env, g, t, fpt)
    L.append("matmul 2048^3 through glm3d's gemm (core/cpu/matmul.h), best repetition  GFLOP/s: before, "
             "after, best  oneDNN impl")
    for kind, (rates, impl) in mm.items():
        L.append(f"  {kind:<54}{'  '.join(f'{r:5.0f}' for r in rates)}  {max(rates):5.0f}  {impl}")
    tm = last_json(out / "torch_matmul.json")
    if tm:
        r = tm["gflops"]
        L.append(f"matmul 2048^3 through PyTorch's own library (torch.matmul, oneDNN {tm['onednn']}), best of "
                 f"{tm['reps']} x {tm['products_per_rep']} products  GFLOP/s: f32 NN {r['f32 NN']:.0f}, "
                 f"bf16 NN {r['bf16 NN']:.0f}, bf16 NT {r['bf16 NT']:.0f}")
        if mm_bf16:
            L.append(f"  PyTorch's bf16 NN / glm3d's bf16 NN: {r['bf16 NN'] / mm_bf16:.2f}x (the '% of mm' columns "
                     f"below divide both steps by glm3d's rates)")
    L.append("")
    rows = [("glm3d f32", g["f32"]), ("PyTorch f32", t["f32"]), ("glm3d bf16", g["bf16"]),
            ("PyTorch bf16 autocast", t["bf16"])]
    table = step_table(rows, fpt, mm_f32, mm_bf16)
    L += table + targets(g, t, fpt, mm_bf16) + details(out, g, t)
    L.append("load average (1 min) at the start of each phase: " +
             ", ".join(f"{k} {v}" for k, v in kv_file(out / "load.txt").items()))
    print("\n".join(L))


if __name__ == "__main__":
    main()
