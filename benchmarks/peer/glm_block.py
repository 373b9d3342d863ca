"""The GLM that glm3d trains, written in PyTorch: the peer of benchmarks/peer/run.sh.

Same semantics as model/glm_model.cpp (one rank, tp = pp = 1):
  x    = word_embeddings[tokens]                                  [B, S, H]
  per layer (DeepNorm, alpha = (2N)^(1/2)):
    h    = LN1(x)
    qkv  = h Wqkv^T + b  viewed [B, S, heads, 3, hd] (q, k, v interleaved per head)
    q, k = 1D RoPE over the whole head dim (rotate_half, base 10000)
    ctx  = softmax(q k^T / sqrt(hd) + GLM mask) v               key j visible to query i
                                                                 iff j < sep[b] or j <= i
    x1   = h * alpha + ctx Wo^T + bo
    h2   = LN2(x1)
    out  = h2 * alpha + gelu_tanh(h2 Wup^T + bup) Wdown^T + bdown
  logits = LNf(x) We^T (tied)                                     [B, S, V], every position
  loss   = mean cross-entropy over the target positions (Part B: positions >= sep)
A training step is forward, backward, clip_grad_norm_(1.0) and AdamW (glm3d's defaults:
betas 0.9/0.95, eps 1e-8, weight decay 0.1 on matrices only), as `glm3d train` does.

  python glm_block.py speed --precision bf16 --warmup 2 --steps 4   # one JSON line
  python glm_block.py check                                          # learns? params? path?
"""
import argparse
import json
import math
import re
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

REFERENCE = dict(num_layers=8, hidden=1024, num_heads=16, ffn_hidden=4096, vocab=32000,
                 seq_len=512, batch=4)


class GLMLayer(nn.Module):
    def __init__(self, hidden, num_heads, ffn_hidden, alpha, beta, eps):
        super().__init__()
        self.nh, self.hd, self.alpha = num_heads, hidden // num_heads, alpha
        # Module names are glm3d's parameter names (model/param_table.cpp), so a glm3d checkpoint
        # loads with load_state_dict (same_model.py).
        self.input_layernorm = nn.LayerNorm(hidden, eps=eps)
        self.attention = nn.Module()
        self.attention.query_key_value = nn.Linear(hidden, 3 * hidden)
        self.attention.dense = nn.Linear(hidden, hidden)
        self.post_attention_layernorm = nn.LayerNorm(hidden, eps=eps)
        self.mlp = nn.Module()
        self.mlp.dense_h_to_4h = nn.Linear(hidden, ffn_hidden)
        self.mlp.dense_4h_to_h = nn.Linear(ffn_hidden, hidden)
        # glm3d's init (model/init.cpp): Xavier normal, gain beta for v, dense and the FFN.
        qkv, dense, up, down = (self.attention.query_key_value, self.attention.dense, self.mlp.dense_h_to_4h,
                                self.mlp.dense_4h_to_h)
        with torch.no_grad():
            w = qkv.weight.view(num_heads, 3, self.hd, hidden)
            nn.init.normal_(w, std=math.sqrt(1.0 / hidden))
            w[:, 2].mul_(beta)
            for lin in (dense, up, down):
                nn.init.xavier_normal_(lin.weight, gain=beta)
            for lin in (qkv, dense, up, down):
                nn.init.zeros_(lin.bias)

    def forward(self, x, cos, sin, mask):  # x [B, S, H]
        B, S, H = x.shape
        h = self.input_layernorm(x)
        qkv = self.attention.query_key_value(h).view(B, S, self.nh, 3, self.hd)
        q, k, v = (qkv[:, :, :, i].transpose(1, 2) for i in range(3))  # [B, nh, S, hd]
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # [B, nh, S, hd]
        ctx = ctx.transpose(1, 2).reshape(B, S, H)
        x1 = h * self.alpha + self.attention.dense(ctx)
        h2 = self.post_attention_layernorm(x1)
        return h2 * self.alpha + self.mlp.dense_4h_to_h(F.gelu(self.mlp.dense_h_to_4h(h2), approximate="tanh"))


class GLM(nn.Module):
    def __init__(self, num_layers, hidden, num_heads, ffn_hidden, vocab, rope_base=10000.0, eps=1e-5,
                 init_std=0.02):
        super().__init__()
        alpha, beta = math.sqrt(2.0 * num_layers), 1.0 / math.sqrt(2.0 * num_layers)
        self.hd, self.rope_base = hidden // num_heads, rope_base
        self.word_embeddings = nn.Embedding(vocab, hidden)
        nn.init.normal_(self.word_embeddings.weight, std=init_std)
        self.layers = nn.ModuleList(
            GLMLayer(hidden, num_heads, ffn_hidden, alpha, beta, eps) for _ in range(num_layers))
        self.final_layernorm = nn.LayerNorm(hidden, eps=eps)

    def hidden(self, tokens, position_ids, mask):  # tokens, position_ids [B, S] -> [B, S, H]
        cos, sin = rope_tables(position_ids, self.hd, self.rope_base)
        x = self.word_embeddings(tokens)
        for layer in self.layers:
            x = layer(x, cos.to(x.dtype), sin.to(x.dtype), mask)
        return x

    def head(self, x):  # [..., H] -> [..., V], the tied head
        return F.linear(self.final_layernorm(x), self.word_embeddings.weight)

    def logits(self, tokens, position_ids, mask):  # [B, S] -> [B, S, V]
        return self.head(self.hidden(tokens, position_ids, mask))

    # targets [B, S], -100 where no loss. head_rows "all": logits of every position (as HF and
    # Megatron); "loss": of the positions with loss only (as glm3d, model/head_rows.h).
    def forward(self, tokens, position_ids, mask, targets, head_rows="all"):
        x, t = self.hidden(tokens, position_ids, mask).flatten(0, 1), targets.flatten()
        if head_rows == "loss":
            keep = t != -100
            x, t = x[keep], t[keep]
        return F.cross_entropy(self.head(x).float(), t, ignore_index=-100)


def rope_tables(position_ids, hd, base):
    # t = p * base^(-2i/hd), i < hd/2, duplicated so element i pairs with i + hd/2: [B, 1, S, hd]
    # Angles in f64 (as glm3d's core/cpu/rope.cpp), cast to the activations' dtype by the caller.
    inv_freq = base ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    ang = position_ids.double()[..., None] * inv_freq
    ang = torch.cat((ang, ang), dim=-1)[:, None]
    return ang.cos(), ang.sin()


def apply_rope(x, cos, sin):  # x [B, nh, S, hd]
    x1, x2 = x.chunk(2, dim=-1)
    return (x * cos + torch.cat((-x2, x1), dim=-1) * sin).to(x.dtype)


def glm_mask(sep, S):
    # [B, 1, S, S] bool, True = visible: key j < sep[b] (Part A) or j <= i (causal Part B).
    i = torch.arange(S)[:, None]
    j = torch.arange(S)[None, :]
    return ((j[None] < sep[:, None, None]) | (j <= i)[None])[:, None]


def make_batch(B, S, vocab, sep, seed):
    # Random tokens; Part A = [0, sep) gives no loss, Part B's targets are random too.
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, vocab, (B, S), generator=g)
    targets = torch.randint(0, vocab, (B, S), generator=g)
    sep_t = torch.full((B,), sep, dtype=torch.long)
    targets[torch.arange(S)[None, :] < sep_t[:, None]] = -100
    position_ids = torch.arange(S).expand(B, S)
    return tokens, position_ids, glm_mask(sep_t, S), targets


def make_optimizer(model, lr):
    decay = [p for n, p in model.named_parameters() if p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if p.dim() <= 1]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def train_step(model, opt, batch, precision, head_rows="all"):
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = model(*batch, head_rows=head_rows)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


def attention_path(model, batch, precision):
    # The ATen kernel SDPA dispatched to, read from the profiler: flash (fused, blocked online
    # softmax) or math (unfused matmul + softmax).
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            model(*batch).backward()
    model.zero_grad(set_to_none=True)
    names = {e.key for e in prof.key_averages()}
    return sorted(n for n in names if n.startswith("aten::_scaled_dot_product") or n == "aten::_softmax")


def build(cfg, seed=1234):
    torch.manual_seed(seed)
    return GLM(cfg["num_layers"], cfg["hidden"], cfg["num_heads"], cfg["ffn_hidden"], cfg["vocab"])


def cmd_speed(a):
    cfg = dict(REFERENCE, **{k: getattr(a, k) for k in REFERENCE})
    model = build(cfg)
    opt = make_optimizer(model, a.lr)
    S, B = cfg["seq_len"], cfg["batch"]
    batch = make_batch(B, S, cfg["vocab"], a.sep if a.sep >= 0 else S // 2, seed=1)
    path = attention_path(model, batch, a.precision)
    losses, times = [], []
    for _ in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        losses.append(train_step(model, opt, batch, a.precision, a.head_rows))
        times.append(time.perf_counter() - t0)
    timed = times[a.warmup:]
    print(json.dumps({"precision": a.precision, "head_rows": a.head_rows,
                      "tokens_per_s": B * S * len(timed) / sum(timed),
                      "tokens_per_step": B * S,
                      "step_times_s": times, "losses": losses, "warmup": a.warmup,
                      "params": sum(p.numel() for p in model.parameters()), "attention": path,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


def cmd_check(a):
    # Same widths and depth as the reference, a shorter sequence so 20 steps stay quick.
    cfg = dict(REFERENCE, seq_len=a.seq_len, batch=a.batch)
    model = build(cfg)
    params = sum(p.numel() for p in model.parameters())
    H, F_, V, L = cfg["hidden"], cfg["ffn_hidden"], cfg["vocab"], cfg["num_layers"]
    # model/config.cpp parameter_count, GeLU FFN, tied head counted once.
    expected = V * H + L * (2 * H + 3 * H * H + 3 * H + H * H + H + 2 * H + F_ * H + F_ + F_ * H + H) + 2 * H
    opt = make_optimizer(model, a.lr)
    batch = make_batch(cfg["batch"], cfg["seq_len"], V, cfg["seq_len"] // 2, seed=2)
    losses = [train_step(model, opt, batch, a.precision) for _ in range(a.steps)]
    # Learning: the last 5 steps' mean loss is clearly below the first step's (random targets:
    # the model memorises the fixed batch).
    learned = sum(losses[-5:]) / 5 < losses[0] - 0.5
    print(json.dumps({"params": params, "expected_params": expected, "params_equal": params == expected,
                      "losses": losses, "learned": learned, "precision": a.precision, "seq_len": a.seq_len,
                      "batch": a.batch, "lr": a.lr,
                      "attention": attention_path(model, batch, a.precision)}))
    return 0 if learned and params == expected else 1


def cmd_matmul(a):
    # PyTorch's own matmul rate at 2048^3 (its bundled library, not glm3d's): best of `reps`
    # repetitions of 5 products after 3 warm-up products, for each dtype and layout.
    n, rates = 2048, {}
    for name, dt in (("f32", torch.float32), ("bf16", torch.bfloat16)):
        x, y = torch.randn(n, n, dtype=dt), torch.randn(n, n, dtype=dt)
        for layout, (p, q) in (("NN", (x, y)), ("NT", (x, y.t()))):
            for _ in range(3):
                torch.matmul(p, q)
            best = float("inf")
            for _ in range(a.reps):
                t0 = time.perf_counter()
                for _ in range(5):
                    torch.matmul(p, q)
                best = min(best, (time.perf_counter() - t0) / 5)
            rates[f"{name} {layout}"] = 2.0 * n ** 3 / best / 1e9
    lib = re.search(r"MKL-DNN v([0-9.]+)", torch.__config__.show())
    print(json.dumps({"gflops": rates, "onednn": lib.group(1) if lib else "unknown", "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "reps": a.reps, "products_per_rep": 5}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed", parents=[common], help="time training steps on the reference model")
    for k, v in REFERENCE.items():
        s.add_argument("--" + k.replace("_", "-"), dest=k, type=int, default=v)
    s.add_argument("--sep", type=int, default=-1, help="Part A length of every sample (default S/2)")
    s.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    s.add_argument("--head-rows", dest="head_rows", choices=["all", "loss"], default="all",
                   help="the LM head over every position (HF, Megatron) or the positions with loss only (glm3d)")
    s.add_argument("--warmup", type=int, default=2)
    s.add_argument("--steps", type=int, default=4)
    s.add_argument("--lr", type=float, default=1e-4)
    c = sub.add_parser("check", parents=[common], help="loss falls over 20 steps; parameter count equals glm3d's")
    c.add_argument("--seq-len", type=int, default=128)
    c.add_argument("--batch", type=int, default=2)
    c.add_argument("--steps", type=int, default=20)
    c.add_argument("--lr", type=float, default=1e-3)
    c.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    m = sub.add_parser("matmul", parents=[common], help="PyTorch's own matmul rate at 2048^3 (f32, bf16; NN, NT)")
    m.add_argument("--reps", type=int, default=4)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    return {"speed": cmd_speed, "check": cmd_check, "matmul": cmd_matmul}[a.cmd](a)


if __name__ == "__main__":
    raise SystemExit(main() or 0)
