"""Byte-level BPE in GPT-2's scheme: training, encoding, and writing tokenizer.json for Hugging Face.

The pre-tokenizer is GPT-2's regex (Hugging Face's ByteLevel pre-tokenizer with use_regex=true and no prefix
space), applied to the UTF-8 bytes mapped to printable characters. Ids: the 256 byte characters in byte order,
then one token per merge in merge order, then the special token <|endoftext|>.

Usage: python3 bpe.py train <train.txt> <out-dir> [vocab-size]   (writes tokenizer.json and tokenizer_config.json)
"""
import collections
import json
import os
import sys

import regex

GPT2_PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
EOS = "<|endoftext|>"


def bytes_to_unicode():
    """GPT-2's map from the 256 byte values to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_CHAR = bytes_to_unicode()


def pre_tokenize(text):
    return ["".join(BYTE_CHAR[b] for b in piece.encode("utf-8")) for piece in GPT2_PATTERN.findall(text)]


def train(paragraphs, vocab_size):
    """Learns vocab_size - 257 merges; ties go to the lexicographically smallest pair, so training is deterministic."""
    words = collections.Counter()
    for p in paragraphs:
        words.update(pre_tokenize(p))
    seqs = [list(w) for w in words]
    counts = list(words.values())
    pair_counts = collections.Counter()
    where = collections.defaultdict(set)
    for i, s in enumerate(seqs):
        for a, b in zip(s, s[1:]):
            pair_counts[(a, b)] += counts[i]
            where[(a, b)].add(i)
    merges = []
    while len(merges) < vocab_size - 257:
        best = min(pair_counts.items(), key=lambda kv: (-kv[1], kv[0]), default=None)
        if best is None or best[1] < 2:
            break
        (a, b), _ = best
        merges.append((a, b))
        joined = a + b
        for i in list(where[(a, b)]):
            s, c = seqs[i], counts[i]
            for x, y in zip(s, s[1:]):
                pair_counts[(x, y)] -= c
                if pair_counts[(x, y)] <= 0:
                    del pair_counts[(x, y)]
            out, k = [], 0
            while k < len(s):
                if k + 1 < len(s) and s[k] == a and s[k + 1] == b:
                    out.append(joined)
                    k += 2
                else:
                    out.append(s[k])
                    k += 1
            seqs[i] = out
            for x, y in zip(out, out[1:]):
                pair_counts[(x, y)] += c
                where[(x, y)].add(i)
        if len(merges) % 200 == 0:
            print(f"  {len(merges)} merges, last {joined!r} x{best[1]}", flush=True)
    return merges


class Tokenizer:
    def __init__(self, merges):
        self.merges = merges
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.vocab = {BYTE_CHAR[b]: b for b in range(256)}
        for i, (a, b) in enumerate(merges):
            self.vocab[a + b] = 256 + i
        self.eos_id = len(self.vocab)
        self.cache = {}

    def encode_word(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            ranked = [(self.ranks.get((x, y), 1 << 30), k) for k, (x, y) in enumerate(zip(parts, parts[1:]))]
            rank, k = min(ranked)
            if rank == 1 << 30:
                break
            a, b = self.merges[rank]
            out, j = [], 0
            while j < len(parts):
                if j + 1 < len(parts) and parts[j] == a and parts[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(parts[j])
                    j += 1
            parts = out
        ids = [self.vocab[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        for w in pre_tokenize(text):
            ids += self.encode_word(w)
        return ids

    @property
    def vocab_size(self):
        return len(self.vocab) + 1


# The chat template renders turns as plain text and ends each assistant turn with <|endoftext|>, the paragraph
# separator the base model already knows, so a LoRA adapter learns to stop without new embeddings.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}"
    "{% elif message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n' }}"
    "{% else %}{{ 'Assistant: ' + message['content'] + '<|endoftext|>' + '\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def tokenizer_files(tok, model_max_length):
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    special = {"id": tok.eos_id, "content": EOS, "single_word": False, "lstrip": False, "rstrip": False,
               "normalized": False, "special": True}
    vocab = dict(tok.vocab)
    vocab[EOS] = tok.eos_id
    tokenizer_json = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": dict(byte_level, trim_offsets=False),
        "decoder": byte_level,
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab, "merges": [f"{a} {b}" for a, b in tok.merges],
        },
    }
    tokenizer_config = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {str(tok.eos_id): {k: v for k, v in special.items() if k != "id"}},
        "bos_token": EOS,
        "eos_token": EOS,
        "unk_token": EOS,
        "pad_token": None,
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
        "tokenizer_class": "GPT2Tokenizer",
        "chat_template": CHAT_TEMPLATE,
    }
    return tokenizer_json, tokenizer_config


def load(tokenizer_json_path):
    with open(tokenizer_json_path, encoding="utf-8") as f:
        merges = [tuple(m.split(" ")) for m in json.load(f)["model"]["merges"]]
    return Tokenizer(merges)


def write_tokenizer(tok, out_dir, model_max_length):
    tj, tc = tokenizer_files(tok, model_max_length)
    os.makedirs(out_dir, exist_ok=True)
    for name, obj in (("tokenizer.json", tj), ("tokenizer_config.json", tc)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=2 if name != "tokenizer.json" else None)
            f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[1] != "train":
        sys.exit(__doc__)
    with open(sys.argv[2], encoding="utf-8") as f:
        paras = f.read().split("\n")
    size = int(sys.argv[4]) if len(sys.argv) == 5 else 2048
    tok = Tokenizer(train(paras, size))
    write_tokenizer(tok, sys.argv[3], 256)
    n_bytes = sum(len(p.encode("utf-8")) for p in paras)
    n_tokens = sum(len(tok.encode(p)) for p in paras)
    print(f"vocab {tok.vocab_size}: {n_tokens} tokens for {n_bytes} bytes ({n_bytes / n_tokens:.2f} bytes/token)")
