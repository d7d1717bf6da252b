"""The studio's data pipeline in plain Python: records to token ids and labels, the validation split, the step count.

This is a port of PEFT Studio's src/data/tokenize.ts (tokenizeRecords), src/data/batching.ts (splitValidation,
datasetOrder), src/util/random.ts (mulberry32) and the step count of src/trainer/trainer.ts, so that a run trained
here sees the examples, loss masks and split the studio's run saw. It imports nothing outside the standard library:
the tokenizer comes in through the small protocol below, which train.py implements over a Hugging Face tokenizer and
the studio's tests implement over encodings made by the studio's own tokenizer.

Labels follow Hugging Face's convention: labels[t] is the token at position t, -100 is ignored, and the model shifts.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Protocol

IGNORE_INDEX = -100

# What JavaScript's String.prototype.trimEnd strips (WhiteSpace, LineTerminator): the studio finds where an assistant
# turn ends with trimEnd, and Python's str.rstrip strips a different set (it keeps U+FEFF, strips U+001C..U+001F, U+0085).
_JS_WHITESPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


class Tokenizer(Protocol):
    """What the pipeline asks of a tokenizer."""

    eos_token_id: int | None

    def encode(self, text: str, add_special_tokens: bool) -> list[int]:
        """Token ids of text; with add_special_tokens, those the tokenizer adds around it (e.g. BOS)."""
        ...

    def render_chat(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        """The conversation rendered by the chat template, as apply_chat_template(..., tokenize=False) does."""
        ...


def read_jsonl(path: str) -> list[dict[str, Any]]:
    """The records of a .jsonl file, one JSON object a line."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def counted_labels(labels: list[int]) -> int:
    """Labels the loss counts: positions t >= 1 (the shift never predicts position 0) with a label other than -100."""
    return sum(1 for label in labels[1:] if label != IGNORE_INDEX)


def _js_trim_end(s: str) -> str:
    end = len(s)
    while end > 0 and s[end - 1] in _JS_WHITESPACE:
        end -= 1
    return s[:end]


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def tokenize_conversation(messages: list[dict[str, str]], tok: Tokenizer) -> tuple[list[int], list[int]] | str:
    """Ids and labels of a chat: only the assistant turns count (their content and the template's end-of-turn text).

    An assistant turn starts where the conversation before it, rendered with the generation prompt, ends, and stops
    where the conversation up to it ends (trailing whitespace stripped); both are found by encoding those renderings
    and matching them as token prefixes of the whole. Returns an error message when the turns cannot be located.
    """
    full = tok.render_chat(messages, False)
    input_ids = tok.encode(full, False)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tok.render_chat(messages[:i], True)
        through = _js_trim_end(tok.render_chat(messages[: i + 1], False))
        if not full.startswith(before) or not full.startswith(through) or len(through) <= len(before):
            return (
                f"the chat template renders this conversation differently from its beginnings (message {i}), "
                "so the assistant turns cannot be located"
            )
        before_ids = tok.encode(before, False)
        through_ids = tok.encode(through, False)
        # Where a rendering is not a token prefix of the whole (a merge across the boundary), the token that
        # straddles the boundary belongs to the assistant turn.
        start = _common_prefix(input_ids, before_ids)
        q = _common_prefix(input_ids, through_ids)
        end = q if q == len(through_ids) else min(q + 1, len(input_ids))
        if end > start:
            spans.append((start, end))
    labels = [IGNORE_INDEX] * len(input_ids)
    for start, end in spans:
        labels[start:end] = input_ids[start:end]
    return input_ids, labels


def tokenize_records(
    records: Iterable[dict[str, Any]], tok: Tokenizer, max_length: int, add_eos: bool = True
) -> tuple[list[dict[str, Any]], list[str]]:
    """Records ({"text"}, {"prompt", "completion"} or {"messages"}) to examples {"input_ids", "labels", "index"}.

    - text: every token counts, then EOS;
    - prompt/completion (Alpaca records arrive as these): encode(prompt) with special tokens, then encode(completion)
      without, then EOS; only the completion and the EOS count;
    - messages: see tokenize_conversation; no EOS is added (the template's end-of-turn token ends a turn).
    Examples are cut to their first max_length tokens. An example with nothing left to count is left out and
    reported in the second list, as the studio reports it (a run there stops unless bad records are skipped).
    """
    eos = tok.eos_token_id

    def with_eos(ids: list[int]) -> list[int]:
        if add_eos and eos is not None and (len(ids) == 0 or ids[-1] != eos):
            return ids + [eos]
        return ids

    examples: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, record in enumerate(records):
        if "messages" in record:
            out = tokenize_conversation(record["messages"], tok)
            if isinstance(out, str):
                problems.append(f"record {index + 1}: {out}")
                continue
            input_ids, labels = out
        elif "prompt" in record:
            prompt_ids = tok.encode(record["prompt"], True)
            completion_ids = with_eos(tok.encode(record["completion"], False))
            input_ids = prompt_ids + completion_ids
            labels = [IGNORE_INDEX] * len(prompt_ids) + completion_ids
        else:
            input_ids = with_eos(tok.encode(record["text"], True))
            labels = list(input_ids)
        input_ids, labels = input_ids[:max_length], labels[:max_length]
        if counted_labels(labels) == 0:
            problems.append(f"record {index + 1}: no token to train on (after truncation to {max_length} tokens)")
            continue
        examples.append({"input_ids": input_ids, "labels": labels, "index": index})
    return examples, problems


def _imul(a: int, b: int) -> int:
    """JavaScript's Math.imul on 32-bit unsigned values: the low 32 bits of the product."""
    return (a * b) & 0xFFFFFFFF


def mulberry32(seed: int):
    """The studio's seeded generator (src/util/random.ts): uniform floats in [0, 1), bit for bit."""
    state = seed & 0xFFFFFFFF

    def next_value() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & 0xFFFFFFFF
        t = state
        t = _imul(t ^ (t >> 15), t | 1)
        t = (t ^ ((t + _imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return next_value


def dataset_order(n: int, seed: int, epoch: int) -> list[int]:
    """The studio's order of n examples in an epoch: a Fisher-Yates shuffle driven by mulberry32(seed + epoch)."""
    order = list(range(n))
    next_value = mulberry32((seed + epoch) & 0xFFFFFFFF)
    for i in range(n - 1, 0, -1):
        j = math.floor(next_value() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


def _js_round(x: float) -> int:
    """JavaScript's Math.round (halves round up), which Python's round (halves to even) is not."""
    return math.floor(x + 0.5)


def split_validation(examples: list[Any], fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """The studio's split: round(n * fraction) examples (at least 1, at most n - 1) picked by a seeded shuffle;
    both parts keep the examples' order. fraction 0, or fewer than 2 examples, gives no validation set."""
    n = len(examples)
    if fraction == 0 or n < 2:
        return list(examples), []
    k = min(n - 1, max(1, _js_round(n * fraction)))
    picked = set(dataset_order(n, (seed ^ 0x5BD1E995) & 0xFFFFFFFF, 0)[:k])
    train = [e for i, e in enumerate(examples) if i not in picked]
    validation = [e for i, e in enumerate(examples) if i in picked]
    return train, validation


def total_steps(n_train: int, max_steps: int, epochs: float, batch_size: int, grad_accum: int) -> int:
    """Optimizer steps of the studio's run: max_steps when set (> 0), else ceil(epochs * batches / grad_accum),
    with batches = ceil(n_train / batch_size) per epoch (the last batch of an epoch may be smaller)."""
    if max_steps > 0:
        return max_steps
    batches_per_epoch = math.ceil(n_train / batch_size)
    return math.ceil(epochs * batches_per_epoch / grad_accum)
