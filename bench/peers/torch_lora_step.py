#!/usr/bin/env python3
"""The PyTorch peer of `npm run bench:train`: the same LoRA training step on the CPU.

    python3 torch_lora_step.py --model DIR --batch B --seq T --steps N --threads K [--rank 8] [--alpha 16] [--seed 7]

DIR holds a Hugging Face checkpoint (config.json and model.safetensors, or shards with
model.safetensors.index.json) of model_type gpt2, llama or qwen2. The script builds the model in plain torch,
float32, following the same transformers modeling code our engine follows (src/model/architectures/ and
src/model/reference/reference-model.ts): LayerNorm / RMSNorm, learned positions / rotate-half RoPE, grouped-query
causal attention, gelu_new / SwiGLU MLPs, q/k/v biases for qwen2, tied embeddings, GPT-2's Conv1D weights stored
[in, out]. The base weights are frozen; LoRA (r, alpha, no dropout, A kaiming-uniform as PEFT, B zero, scale
alpha / r) sits on every linear layer of the blocks, not on lm_head, as target_modules "all-linear" does.

One step is what our trainer's optimizer step is with the bench's settings (DEFAULT_TRAINING in
src/trainer/trainer.ts, with lr 1e-3): forward, next-token cross-entropy over every position of B random
sequences of T tokens, backward, global-norm clipping at 1.0, AdamW (betas 0.9 / 0.999, eps 1e-8, weight decay 0)
at the linear schedule's learning rate, and zero_grad. One warm-up step, then N timed steps.

The token ids are drawn as bench/train.ts's examples() draws them (mulberry32 of --seed, ids in order), step k
taking sequences k·B .. k·B + B − 1. With B = 0 at the start, loss_first is the base model's loss on the first B
of them, which the float64 reference (referenceLoss) gives to about 1e-6.

It prints one JSON line: {"ms_per_step": median, "threads", "torch", "blas", "omp_wait_policy", "params",
"loss_first", "loss_last", ...}. It needs torch only (no transformers, peft, safetensors or numpy): it parses the
checkpoint itself.
"""
import argparse
import json
import math
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="folder with config.json and model.safetensors")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=32)
    p.add_argument("--steps", type=int, default=4, help="timed steps, after one warm-up step")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--lr", type=float, default=1e-3)
    args = p.parse_args()
    for name in ("batch", "seq", "steps", "threads", "rank"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be a positive integer")
    return args


ARGS = parse_args()
# The BLAS library torch calls for matrix products may keep its own thread pool (OpenBLAS, BLIS), which
# torch.set_num_threads does not reach in a build against a generic BLAS such as Debian's. These variables are
# read when the libraries load, so they are set before torch is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)
# OpenMP's threads spin between parallel regions by default. When anything else runs on the machine, a spinning
# worker takes the core the main thread needs, and on a 2-core machine with other work on it a step with two
# threads took 15 to 20 times as long as with one (every op, not only the parallel ones). Sleeping workers cost
# a wake-up per region instead and never collapse like that, so the peer sleeps them unless the caller chose.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402  (imported after the thread variables are set, on purpose)
import torch.nn.functional as F  # noqa: E402

# Training settings of bench/train.ts: DEFAULT_TRAINING (src/options/training-fields.ts) with lr from --lr.
MAX_GRAD_NORM = 1.0
BETAS = (0.9, 0.999)
EPS = 1e-8
WEIGHT_DECAY = 0.0


# ---------------------------------------------------------------------------------------------------------------
# Checkpoint reading


def read_safetensors(path):
    """Every tensor of a .safetensors file as float32: 8-byte little-endian header size, JSON header, raw data."""
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in dtypes:
            raise SystemExit(f"{path}: tensor {name} has dtype {info['dtype']}; expected F32, F16 or BF16")
        start, end = info["data_offsets"]
        shape = info["shape"]
        dtype = dtypes[info["dtype"]]
        if end == start:
            out[name] = torch.zeros(shape, dtype=torch.float32)
            continue
        # A bytearray copy is writable, which torch.frombuffer wants (it warns about read-only buffers).
        t = torch.frombuffer(bytearray(data[base + start : base + end]), dtype=dtype)
        out[name] = t.reshape(shape).to(torch.float32)
    return out


def read_checkpoint(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        tensors = {}
        for shard in shards:
            tensors.update(read_safetensors(os.path.join(folder, shard)))
        return tensors
    return read_safetensors(os.path.join(folder, "model.safetensors"))


def model_config(raw):
    """The sizes our engine reads from config.json (src/model/architectures/*.ts), with the same defaults."""
    mt = raw.get("model_type")
    if mt == "gpt2":
        hidden = raw.get("n_embd", 768)
        heads = raw.get("n_head", 12)
        act = raw.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            raise SystemExit(f"activation_function {act!r} is not supported for gpt2")
        return dict(
            family="gpt2", vocab=raw.get("vocab_size", 50257), hidden=hidden, layers=raw.get("n_layer", 12),
            heads=heads, kv_heads=heads, head_dim=hidden // heads, inter=raw.get("n_inner") or 4 * hidden,
            eps=raw.get("layer_norm_epsilon", 1e-5), tie=raw.get("tie_word_embeddings", True),
        )
    if mt in ("llama", "qwen2"):
        if raw.get("hidden_act", "silu") != "silu":
            raise SystemExit(f"hidden_act {raw.get('hidden_act')!r} is not supported; expected silu")
        if raw.get("rope_scaling") is not None:
            raise SystemExit("rope_scaling is not supported; only plain RoPE is")
        hidden = raw["hidden_size"]
        heads = raw["num_attention_heads"]
        attention_bias = raw.get("attention_bias", False)
        qwen2 = mt == "qwen2"
        return dict(
            family="llama", vocab=raw["vocab_size"], hidden=hidden, layers=raw["num_hidden_layers"], heads=heads,
            kv_heads=raw.get("num_key_value_heads") or heads, head_dim=raw.get("head_dim") or hidden // heads,
            inter=raw["intermediate_size"], eps=raw.get("rms_norm_eps", 1e-6), theta=raw.get("rope_theta", 10000.0),
            tie=raw.get("tie_word_embeddings", False), qkv_bias=qwen2 or attention_bias,
            o_bias=(not qwen2) and attention_bias, mlp_bias=raw.get("mlp_bias", False),
        )
    raise SystemExit(f"model_type {mt!r} is not supported; expected gpt2, llama or qwen2")


# ---------------------------------------------------------------------------------------------------------------
# The model


class LoraLinear(torch.nn.Module):
    """A frozen linear layer plus PEFT's LoRA branch: W0·x + b + scale · B·(A·x), A [r, in], B [out, r].

    `conv1d` keeps GPT-2's Conv1D as transformers runs it: the weight stored [in, out] and y = addmm(b, x, W).
    """

    def __init__(self, weight, bias, rank, alpha, conv1d=False):
        super().__init__()
        self.conv1d = conv1d
        self.weight = torch.nn.Parameter(weight.contiguous(), requires_grad=False)
        self.bias = None if bias is None else torch.nn.Parameter(bias.contiguous(), requires_grad=False)
        n_in, n_out = (weight.shape[0], weight.shape[1]) if conv1d else (weight.shape[1], weight.shape[0])
        self.lora_A = torch.nn.Parameter(torch.empty(rank, n_in))
        self.lora_B = torch.nn.Parameter(torch.zeros(n_out, rank))
        # PEFT's reset_lora_parameters for init_lora_weights=True: kaiming_uniform_(a=√5) on A, zeros on B.
        torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scale = alpha / rank

    def forward(self, x):
        if self.conv1d:
            shape = x.shape[:-1] + (self.weight.shape[1],)
            x2 = x.reshape(-1, x.shape[-1])
            y = torch.addmm(self.bias, x2, self.weight) if self.bias is not None else x2 @ self.weight
            y = y.view(shape)
        else:
            y = F.linear(x, self.weight, self.bias)
        return y + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scale


def rms_norm(x, weight, eps):
    # LlamaRMSNorm / Qwen2RMSNorm.
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def causal_attention(q, k, v, heads, kv_heads):
    """q [B, H, T, hd], k and v [B, KV, T, hd]: softmax(q·kᵀ/√hd + causal mask)·v with grouped-query heads."""
    if kv_heads != heads:
        # transformers' repeat_kv: query head h reads kv head h // (H / KV). An expand and a reshape, as there:
        # repeat_interleave computes the same but builds an index tensor and gathers, several times slower here.
        B, KV, T, hd = k.shape
        n = heads // kv_heads
        k = k[:, :, None].expand(B, KV, n, T, hd).reshape(B, heads, T, hd)
        v = v[:, :, None].expand(B, KV, n, T, hd).reshape(B, heads, T, hd)
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    return torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v


class Model(torch.nn.Module):
    def __init__(self, cfg, w, rank, alpha):
        super().__init__()
        self.cfg = cfg
        frozen = lambda t: torch.nn.Parameter(t, requires_grad=False)  # noqa: E731
        gpt2 = cfg["family"] == "gpt2"

        def get(name):
            if name not in w:
                raise SystemExit(f"the checkpoint has no tensor {name}")
            return w[name]

        def opt(name, present):
            return get(name) if present else None

        self.blocks = torch.nn.ModuleList()
        if gpt2:
            self.wte = frozen(get("transformer.wte.weight"))
            self.wpe = frozen(get("transformer.wpe.weight"))
            for i in range(cfg["layers"]):
                p = f"transformer.h.{i}"
                b = torch.nn.Module()
                b.ln_1 = torch.nn.ParameterList([frozen(get(f"{p}.ln_1.weight")), frozen(get(f"{p}.ln_1.bias"))])
                b.ln_2 = torch.nn.ParameterList([frozen(get(f"{p}.ln_2.weight")), frozen(get(f"{p}.ln_2.bias"))])
                for sub in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
                    lin = LoraLinear(get(f"{p}.{sub}.weight"), get(f"{p}.{sub}.bias"), rank, alpha, conv1d=True)
                    setattr(b, sub.replace(".", "_"), lin)
                self.blocks.append(b)
            self.ln_f = torch.nn.ParameterList([frozen(get("transformer.ln_f.weight")), frozen(get("transformer.ln_f.bias"))])
            self.head = self.wte if cfg["tie"] else frozen(get("lm_head.weight"))
        else:
            self.wte = frozen(get("model.embed_tokens.weight"))
            for i in range(cfg["layers"]):
                p = f"model.layers.{i}"
                b = torch.nn.Module()
                b.norm1 = frozen(get(f"{p}.input_layernorm.weight"))
                b.norm2 = frozen(get(f"{p}.post_attention_layernorm.weight"))
                for sub, has_bias in (
                    ("self_attn.q_proj", cfg["qkv_bias"]), ("self_attn.k_proj", cfg["qkv_bias"]),
                    ("self_attn.v_proj", cfg["qkv_bias"]), ("self_attn.o_proj", cfg["o_bias"]),
                    ("mlp.gate_proj", cfg["mlp_bias"]), ("mlp.up_proj", cfg["mlp_bias"]), ("mlp.down_proj", cfg["mlp_bias"]),
                ):
                    lin = LoraLinear(get(f"{p}.{sub}.weight"), opt(f"{p}.{sub}.bias", has_bias), rank, alpha)
                    setattr(b, sub.split(".")[1], lin)
                self.blocks.append(b)
            self.norm = frozen(get("model.norm.weight"))
            self.head = self.wte if cfg["tie"] else frozen(get("lm_head.weight"))

    def rope_tables(self, T):
        """cos and sin [T, hd] of HF's rotate-half RoPE, positions 0 .. T − 1 (constants of the step's shape)."""
        hd = self.cfg["head_dim"]
        inv_freq = 1.0 / (self.cfg["theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    def forward(self, ids):
        c = self.cfg
        B, T = ids.shape
        H, KV, hd = c["heads"], c["kv_heads"], c["head_dim"]
        h = F.embedding(ids, self.wte)
        if c["family"] == "gpt2":
            h = h + self.wpe[:T]
            for b in self.blocks:
                a = F.layer_norm(h, (c["hidden"],), b.ln_1[0], b.ln_1[1], c["eps"])
                q, k, v = b.attn_c_attn(a).split(c["hidden"], dim=-1)
                q, k, v = (x.view(B, T, H, hd).transpose(1, 2) for x in (q, k, v))
                o = causal_attention(q, k, v, H, H).transpose(1, 2).reshape(B, T, H * hd)
                h = h + b.attn_c_proj(o)
                a = F.layer_norm(h, (c["hidden"],), b.ln_2[0], b.ln_2[1], c["eps"])
                # gelu_new (NewGELUActivation) is the tanh approximation of GELU, which F.gelu computes fused.
                h = h + b.mlp_c_proj(F.gelu(b.mlp_c_fc(a), approximate="tanh"))
            h = F.layer_norm(h, (c["hidden"],), self.ln_f[0], self.ln_f[1], c["eps"])
        else:
            cos, sin = self.rope_tables(T)
            for b in self.blocks:
                a = rms_norm(h, b.norm1, c["eps"])
                q = b.q_proj(a).view(B, T, H, hd).transpose(1, 2)
                k = b.k_proj(a).view(B, T, KV, hd).transpose(1, 2)
                v = b.v_proj(a).view(B, T, KV, hd).transpose(1, 2)
                q = q * cos + rotate_half(q) * sin
                k = k * cos + rotate_half(k) * sin
                o = causal_attention(q, k, v, H, KV).transpose(1, 2).reshape(B, T, H * hd)
                h = h + b.o_proj(o)
                a = rms_norm(h, b.norm2, c["eps"])
                h = h + b.down_proj(F.silu(b.gate_proj(a)) * b.up_proj(a))
            h = rms_norm(h, self.norm, c["eps"])
        return F.linear(h, self.head)


# ---------------------------------------------------------------------------------------------------------------
# Data and the step


def mulberry32(seed):
    """src/util/random.ts's mulberry32, so the token ids are the ones bench/train.ts's examples() draws."""
    s = seed & 0xFFFFFFFF

    def imul(a, b):
        return (a * b) & 0xFFFFFFFF

    def nxt():
        nonlocal s
        s = (s + 0x6D2B79F5) & 0xFFFFFFFF
        t = s
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return nxt


def canonical(cfg, tensors):
    """Checkpoint keys as our engine names them: GPT-2's with "transformer." (old checkpoints omit it)."""
    if cfg["family"] != "gpt2":
        return tensors
    return {k if k.startswith("transformer.") or k == "lm_head.weight" else f"transformer.{k}": v for k, v in tensors.items()}


def blas_library():
    """The BLAS shared library this process mapped (torch's generic-BLAS builds get whichever one is installed)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return "unknown"
    for p in sorted(paths):
        name = os.path.basename(p)
        if any(x in name for x in ("openblas", "blis", "mkl_rt", "libmkl", "libblas")):
            return os.path.realpath(p)
    return "unknown"


def main():
    a = ARGS
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(os.path.join(a.model, "config.json")) as f:
        cfg = model_config(json.load(f))
    model = Model(cfg, canonical(cfg, read_checkpoint(a.model)), a.rank, a.alpha)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)

    total = a.steps + 1
    rng = mulberry32(a.seed)
    ids = torch.tensor([[math.floor(rng() * cfg["vocab"]) for _ in range(a.seq)] for _ in range(total * a.batch)], dtype=torch.long)

    times = []
    losses = []
    for step in range(total):
        batch = ids[step * a.batch : (step + 1) * a.batch]
        t0 = time.perf_counter()
        # transformers' get_linear_schedule_with_warmup without warmup, over the run's steps (lr-schedule.ts).
        for g in opt.param_groups:
            g["lr"] = a.lr * max(0.0, (total - step) / total)
        logits = model(batch)
        # Position t predicts token t + 1: every position but the last is trained, as labels = inputs in our bench.
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, cfg["vocab"]), batch[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step > 0:
            times.append((time.perf_counter() - t0) * 1000)

    # The upper median, as bench/train.ts takes it (sorted[floor(n / 2)]), so both sides pick the same rank.
    ms = sorted(times)[len(times) // 2]
    print(json.dumps({
        "ms_per_step": round(ms, 3),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "blas": blas_library(),
        "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
        "params": sum(p.numel() for p in params),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "steps": a.steps,
        "batch": a.batch,
        "seq": a.seq,
        "times_ms": [round(t, 3) for t in times],
    }))


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # A one-line reason on stderr, for the benchmark to show; the traceback follows it.
        print(f"torch_lora_step.py: {type(e).__name__}: {e}", file=sys.stderr)
        raise
