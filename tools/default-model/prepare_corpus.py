"""Cleans the six novels into paragraphs and splits them into training and validation text.

Input: the per-book files written by extract_corpus.R. Output (one paragraph per line, UTF-8):
  <out>/train.txt       the first 95 % of each book's paragraphs (by characters)
  <out>/validation.txt  the last 5 % of each book's paragraphs (held out; never seen in pretraining)

Cleaning: source lines are joined into paragraphs at blank lines; chapter and volume headings, title pages and
"THE END" are dropped (any paragraph without a lower-case letter, or starting with CHAPTER/VOLUME); the italic
markers `_word_` lose their underscores; runs of spaces become one space. The pretraining script puts the
separator token <|endoftext|> between paragraphs, so the model learns to stop.

Usage: python3 prepare_corpus.py <raw-dir> <out-dir>
"""
import os
import re
import sys

BOOKS = ["Sense_Sensibility", "Pride_Prejudice", "Mansfield_Park", "Emma", "Northanger_Abbey", "Persuasion"]
VALIDATION_FRACTION = 0.05


def paragraphs(lines):
    current = []
    for line in lines + [""]:
        line = line.strip()
        if line:
            current.append(line)
        elif current:
            yield " ".join(current)
            current = []


def clean(paragraph):
    text = paragraph.replace("_", "")
    text = re.sub(r"\s+", " ", text).strip()
    if not re.search(r"[a-z]", text):
        return None  # headings, title pages, THE END
    if re.match(r"(CHAPTER|Chapter|VOLUME|Volume)\b", text):
        return None
    return text


def main(raw_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    train, valid = [], []
    for book in BOOKS:
        with open(os.path.join(raw_dir, book + ".txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        paras = [p for p in (clean(p) for p in paragraphs(lines)) if p]
        total = sum(len(p) for p in paras)
        cut, seen = len(paras), 0
        for i, p in enumerate(paras):
            if seen >= total * (1 - VALIDATION_FRACTION):
                cut = i
                break
            seen += len(p)
        train += paras[:cut]
        valid += paras[cut:]
        print(f"{book:18s} {len(paras):6d} paragraphs, {total:8d} chars, {len(paras) - cut:4d} held out")
    for name, paras in (("train.txt", train), ("validation.txt", valid)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.write("\n".join(paras) + "\n")
        print(f"{name}: {len(paras)} paragraphs, {sum(len(p) + 1 for p in paras)} bytes")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
