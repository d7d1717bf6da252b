"""Evaluates the exported model on the held-out text and writes MODEL_CARD.md (and a copy of validation.txt).

The validation loss is transformers' causal-LM loss with labels = input_ids, averaged over non-overlapping
256-token windows of the held-out stream (each paragraph's tokens followed by <|endoftext|>). The card also
gives the loss over the first TEST_WINDOWS windows, which tests/default-model.gpu.test.ts recomputes on the
studio's GPU engine and on its float64 CPU reference.

Usage: python3 write_model_card.py <corpus-dir> <model-dir>   (model-dir holds the export and stats.json)
"""
import json
import os
import shutil
import sys

import torch

import bpe
import pretrain


def main(corpus, folder):
    torch.set_num_threads(os.cpu_count())
    with open(os.path.join(folder, "stats.json"), encoding="utf-8") as f:
        stats = json.load(f)
    tok = bpe.load(os.path.join(folder, "tokenizer.json"))
    ctx = pretrain.CONFIG["max_position_embeddings"]
    stream = pretrain.token_stream(tok, os.path.join(corpus, "validation.txt"))
    x = pretrain.windows(stream, ctx)
    model = pretrain.load_exported(folder)
    full = pretrain.mean_loss(model, x)
    test = pretrain.mean_loss(model, x[:pretrain.TEST_WINDOWS])
    shutil.copyfile(os.path.join(corpus, "validation.txt"), os.path.join(folder, "validation.txt"))
    with open(os.path.join(corpus, "train.txt"), encoding="utf-8") as f:
        train_bytes = len(f.read().encode("utf-8"))
    with open(os.path.join(corpus, "validation.txt"), encoding="utf-8") as f:
        val_text = f.read()
    c = pretrain.CONFIG
    g = stats["generation"]
    log_rows = "\n".join(f"| {e['step']} | {e['train_loss']:.3f} | {e['seconds']:.0f} |" for e in stats["log"] if e["step"] % 250 == 0 or e is stats["log"][-1])
    samples = "\n\n".join(f"> {s['text']}" for s in stats["samples"])
    card = f"""# Austen 2M

The embedded default model of PEFT Studio: a {stats['parameters'] / 1e6:.2f}M-parameter Llama-architecture language model
pretrained from scratch on Jane Austen's six novels. It is small enough to ship with the studio (F16 weights,
{os.path.getsize(os.path.join(folder, 'model.safetensors')) / 1e6:.1f} MB) and to fine-tune on a CPU-emulated GPU. It writes Austen-like
English; it knows nothing else. Built by `tools/default-model/` (see its README to reproduce it).

## Corpus and license

- Source: Debian's package `r-cran-janeaustenr` (Julia Silge's janeaustenr; the packaging is MIT-licensed), which holds
  the texts of *Sense and Sensibility*, *Pride and Prejudice*, *Mansfield Park*, *Emma*, *Northanger Abbey* and
  *Persuasion*. The novels are in the public domain.
- Cleaning: lines joined into paragraphs; chapter and volume headings, title pages and "THE END" dropped; italic
  underscores removed. `<|endoftext|>` separates paragraphs, so the model learns to stop.
- Split: the last 5 % (by characters) of each novel's paragraphs are held out: {train_bytes:,} bytes of training text,
  {len(val_text.encode('utf-8')):,} bytes of validation text (`validation.txt`, one paragraph per line).

## Tokenizer

Byte-level BPE in GPT-2's scheme (GPT-2's pre-tokenizer regex, no prefix space), {tok.vocab_size} tokens: 256 bytes,
{len(tok.merges)} merges learned on the training text, and `<|endoftext|>` (id {tok.eos_id}, also BOS, EOS and PAD).
{stats['corpus_train_tokens']:,} training tokens, {stats['corpus_train_tokens'] and train_bytes / stats['corpus_train_tokens']:.2f} bytes per token.
The chat template renders `User: …` / `Assistant: …` turns as plain text and ends each assistant turn with `<|endoftext|>`.

## Architecture

`LlamaForCausalLM`: hidden size {c['hidden_size']}, {c['num_hidden_layers']} layers, {c['num_attention_heads']} attention heads of {c['head_dim']}
with {c['num_key_value_heads']} key-value heads (grouped-query attention), SwiGLU MLP of {c['intermediate_size']}, RMSNorm (eps {c['rms_norm_eps']}),
rotate-half RoPE (theta {c['rope_theta']:g}), context {c['max_position_embeddings']}, tied input and output embeddings,
no biases. {stats['parameters']:,} parameters.

## Training

PyTorch {stats['torch']} on {stats['threads']} CPU threads, seed {stats['seed']}: {stats['steps']} steps of {stats['batch']} random
{stats['context']}-token windows ({stats['train_tokens_seen']:,} tokens, about {stats['train_tokens_seen'] / stats['corpus_train_tokens']:.1f} epochs), AdamW (betas 0.9/0.95,
weight decay 0.1 on matrices), learning rate {stats['lr']:g} with {stats['warmup']} warmup steps and a cosine decay to a tenth,
gradient clipping at 1.0. Training took {stats['train_seconds'] / 60:.1f} minutes.

| step | training loss | seconds |
|---:|---:|---:|
{log_rows}

## Evaluation

Loss as transformers computes it with `labels = input_ids`, over non-overlapping {ctx}-token windows of the held-out
token stream, using the shipped F16 weights:

| held-out text | loss |
|---|---:|
| Validation loss, all {len(x)} windows ({x.numel():,} tokens) | **{full:.4f}** |
| Validation loss, first {pretrain.TEST_WINDOWS} windows (checked by tests/default-model.gpu.test.ts) | **{test:.4f}** |

The held-out stream has {len(stream):,} tokens in all.

## Samples

Sampled with the defaults of `generation_config.json` (temperature {g['temperature']}, top-k {g['top_k']}, top-p {g['top_p']},
repetition penalty {g['repetition_penalty']}). Greedy decoding loops on a model this small: sample, or use a repetition
penalty.

{samples}
"""
    with open(os.path.join(folder, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(card)
    print(f"validation loss {full:.4f} ({len(x)} windows), first {pretrain.TEST_WINDOWS} windows {test:.4f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
