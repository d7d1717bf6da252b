"""Pretrains the studio's embedded default model: a ~2M-parameter Llama on Jane Austen's novels.

Reads the corpus from prepare_corpus.py and the tokenizer from bpe.py, trains with a fixed seed, and exports the
model in Hugging Face layout (config.json, model.safetensors in F16, tokenizer files, generation_config.json)
together with stats.json (losses, timing, samples) that write_model_card.py turns into MODEL_CARD.md.

Usage: python3 pretrain.py <corpus-dir> <tokenizer-dir> <out-dir> [--steps N] [--seed S] [--threads T]
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

import bpe

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 2048,
    "hidden_size": 192,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 6,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "hidden_act": "silu",
    "tie_word_embeddings": True,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "mlp_bias": False,
    "initializer_range": 0.02,
    "torch_dtype": "float16",
    "use_cache": True,
}
GENERATION = {"do_sample": True, "temperature": 0.8, "top_k": 40, "top_p": 0.95, "repetition_penalty": 1.15,
              "max_new_tokens": 80}
# The engine's validation check (tests/default-model.gpu.test.ts) evaluates these first windows only.
TEST_WINDOWS = 4
SAMPLE_PROMPTS = ["It is a truth universally acknowledged", "Mr. Darcy", "\"My dear Emma,\" said",
                  "The weather at Bath"]


class Llama(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d, f, hd = c["hidden_size"], c["intermediate_size"], c["head_dim"]
        h, kv = c["num_attention_heads"], c["num_key_value_heads"]
        self.embed = torch.nn.Embedding(c["vocab_size"], d)
        self.layers = torch.nn.ModuleList()
        for _ in range(c["num_hidden_layers"]):
            layer = torch.nn.Module()
            layer.input_norm = torch.nn.Parameter(torch.ones(d))
            layer.q = torch.nn.Linear(d, h * hd, bias=False)
            layer.k = torch.nn.Linear(d, kv * hd, bias=False)
            layer.v = torch.nn.Linear(d, kv * hd, bias=False)
            layer.o = torch.nn.Linear(h * hd, d, bias=False)
            layer.post_norm = torch.nn.Parameter(torch.ones(d))
            layer.gate = torch.nn.Linear(d, f, bias=False)
            layer.up = torch.nn.Linear(d, f, bias=False)
            layer.down = torch.nn.Linear(f, d, bias=False)
            self.layers.append(layer)
        self.norm = torch.nn.Parameter(torch.ones(d))
        for name, p in self.named_parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=c["initializer_range"])
        inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        t = torch.arange(c["max_position_embeddings"], dtype=torch.float32)
        freqs = torch.outer(t, inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)

    def rms(self, x, w):
        x32 = x.float()
        return w * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.c["rms_norm_eps"]))

    def rope(self, x, T):
        cos, sin = self.cos[:T], self.sin[:T]
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rotated * sin

    def forward(self, ids):
        B, T = ids.shape
        c = self.c
        h, kv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.embed(ids)
        for L in self.layers:
            a = self.rms(x, L.input_norm)
            q = self.rope(L.q(a).view(B, T, h, hd).transpose(1, 2), T)
            k = self.rope(L.k(a).view(B, T, kv, hd).transpose(1, 2), T)
            v = L.v(a).view(B, T, kv, hd).transpose(1, 2)
            k = k.repeat_interleave(h // kv, dim=1)
            v = v.repeat_interleave(h // kv, dim=1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, h * hd)
            x = x + L.o(y)
            m = self.rms(x, L.post_norm)
            x = x + L.down(F.silu(L.gate(m)) * L.up(m))
        return self.rms(x, self.norm) @ self.embed.weight.T

    def hf_state(self):
        """Weights under Hugging Face's LlamaForCausalLM names (lm_head tied to the embedding, so absent)."""
        out = {"model.embed_tokens.weight": self.embed.weight}
        for i, L in enumerate(self.layers):
            p = f"model.layers.{i}."
            out[p + "input_layernorm.weight"] = L.input_norm
            out[p + "post_attention_layernorm.weight"] = L.post_norm
            for src, dst in (("q", "self_attn.q_proj"), ("k", "self_attn.k_proj"), ("v", "self_attn.v_proj"),
                             ("o", "self_attn.o_proj"), ("gate", "mlp.gate_proj"), ("up", "mlp.up_proj"),
                             ("down", "mlp.down_proj")):
                out[p + dst + ".weight"] = getattr(L, src).weight
        out["model.norm.weight"] = self.norm
        return out


def token_stream(tok, path):
    """Each paragraph's tokens followed by <|endoftext|>, concatenated."""
    with open(path, encoding="utf-8") as f:
        paras = [p for p in f.read().split("\n") if p]
    ids = []
    for p in paras:
        ids += tok.encode(p)
        ids.append(tok.eos_id)
    return torch.tensor(ids, dtype=torch.long)


def windows(ids, ctx):
    """Non-overlapping windows of ctx tokens (the last partial one dropped)."""
    n = len(ids) // ctx
    return ids[:n * ctx].view(n, ctx)


@torch.no_grad()
def mean_loss(model, x, batch=16):
    """transformers' causal-LM loss with labels = input_ids: the mean over every window of its ctx - 1 predictions."""
    total, count = 0.0, 0
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        logits = model(xb)[:, :-1].double()
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), xb[:, 1:].reshape(-1), reduction="sum").item()
        count += xb[:, 1:].numel()
    return total / count


@torch.no_grad()
def sample(model, tok, prompt, seed, g):
    gen = torch.Generator().manual_seed(seed)
    ids = tok.encode(prompt)
    for _ in range(g["max_new_tokens"]):
        logits = model(torch.tensor([ids[-CONFIG["max_position_embeddings"]:]]))[0, -1].double()
        for t in set(ids):  # repetition penalty as in transformers
            logits[t] = logits[t] / g["repetition_penalty"] if logits[t] > 0 else logits[t] * g["repetition_penalty"]
        logits = logits / g["temperature"]
        top = torch.topk(logits, g["top_k"])
        probs = top.values.softmax(-1)
        keep = (probs.cumsum(-1) - probs) < g["top_p"]
        probs = probs * keep
        nxt = top.indices[torch.multinomial(probs / probs.sum(), 1, generator=gen)].item()
        if nxt == tok.eos_id:
            break
        ids.append(nxt)
    raw = b"".join(bytes([BYTE_FROM_CHAR[ch] for ch in TOKEN_TEXT[i]]) for i in ids)
    return raw.decode("utf-8", errors="replace")


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        arr = tensors[name].detach().to(torch.float16).numpy().astype("<f2")
        blob = arr.tobytes()
        header[name] = {"dtype": "F16", "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F16", f"{path}: {name} is {info['dtype']}, expected F16"
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f2").astype(np.float32).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def load_exported(folder):
    """The exported model (F16 weights widened to F32) in this file's Llama class."""
    model = Llama(CONFIG)
    state = read_safetensors(os.path.join(folder, "model.safetensors"))
    with torch.no_grad():
        for name, p in model.hf_state().items():
            p.copy_(state[name])
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("tokenizer")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tok = bpe.load(os.path.join(args.tokenizer, "tokenizer.json"))
    global TOKEN_TEXT, BYTE_FROM_CHAR
    TOKEN_TEXT = {i: t for t, i in tok.vocab.items()}
    BYTE_FROM_CHAR = {c: b for b, c in bpe.BYTE_CHAR.items()}
    ctx = CONFIG["max_position_embeddings"]
    train_ids = token_stream(tok, os.path.join(args.corpus, "train.txt"))
    val_x = windows(token_stream(tok, os.path.join(args.corpus, "validation.txt")), ctx)
    print(f"train {len(train_ids)} tokens, validation {val_x.numel()} tokens in {len(val_x)} windows", flush=True)

    model = Llama(CONFIG)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)
    log, start = [], time.time()
    for step in range(1, args.steps + 1):
        lr = args.lr * (step / args.warmup if step <= args.warmup else
                        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - args.warmup) / (args.steps - args.warmup))))
        for group in opt.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(train_ids) - ctx - 1, (args.batch,), generator=gen)
        x = torch.stack([train_ids[s:s + ctx] for s in starts])
        y = torch.stack([train_ids[s + 1:s + ctx + 1] for s in starts])
        loss = F.cross_entropy(model(x).reshape(-1, CONFIG["vocab_size"]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps:
            entry = {"step": step, "train_loss": round(loss.item(), 4), "lr": lr, "seconds": round(time.time() - start, 1)}
            if step % 300 == 0 or step == args.steps:
                entry["validation_loss"] = round(mean_loss(model, val_x), 4)
            log.append(entry)
            print(json.dumps(entry), flush=True)
    seconds = time.time() - start

    # What ships is F16: evaluate and sample with the rounded weights.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "model.safetensors"), model.hf_state())
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(dict(CONFIG, bos_token_id=tok.eos_id, eos_token_id=tok.eos_id), f, indent=2)
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump(dict(GENERATION, bos_token_id=tok.eos_id, eos_token_id=tok.eos_id, pad_token_id=tok.eos_id), f, indent=2)
    bpe.write_tokenizer(tok, args.out, ctx)

    stats = {
        "parameters": n_params,
        "seed": args.seed,
        "steps": args.steps,
        "batch": args.batch,
        "context": ctx,
        "train_tokens_seen": args.steps * args.batch * ctx,
        "corpus_train_tokens": len(train_ids),
        "train_seconds": round(seconds),
        "threads": args.threads,
        "torch": torch.__version__,
        "lr": args.lr,
        "warmup": args.warmup,
        "log": log,
        "generation": GENERATION,
        "samples": [{"prompt": p, "seed": i, "text": sample(model, tok, p, i, GENERATION)} for i, p in enumerate(SAMPLE_PROMPTS)],
    }
    with open(os.path.join(args.out, "stats.json"), "w") as f:
        json.dump(stats, f, indent=2, ensure_ascii=False)
    print(json.dumps({k: v for k, v in stats.items() if k not in ("log", "samples")}, indent=1))
    for s in stats["samples"]:
        print("---", s["text"])


if __name__ == "__main__":
    main()
