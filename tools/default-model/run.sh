#!/usr/bin/env bash
# Rebuilds the studio's embedded default model and sample datasets from scratch (about 20 minutes on 2 cores).
# Usage: tools/default-model/run.sh [work-dir]   (default /tmp/peft-studio-default-model)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/peft-studio-default-model}"
model_out="$repo/public/models/austen-2m"
py=/usr/bin/python3  # Debian's python3-torch, not a virtualenv

if ! dpkg -s python3-torch python3-numpy python3-regex libopenblas0-openmp r-cran-janeaustenr >/dev/null 2>&1; then
  echo "installing Debian packages (python3-torch, libopenblas0-openmp, r-cran-janeaustenr, ...)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-numpy python3-regex libopenblas0-openmp r-cran-janeaustenr
fi

mkdir -p "$work"
echo "== 1. corpus"
Rscript "$here/extract_corpus.R" "$work/raw"
"$py" "$here/prepare_corpus.py" "$work/raw" "$work/corpus"
echo "== 2. tokenizer"
"$py" "$here/bpe.py" train "$work/corpus/train.txt" "$work/tokenizer"
echo "== 3. pretraining"
"$py" "$here/pretrain.py" "$work/corpus" "$work/tokenizer" "$work/model"
echo "== 4. evaluation and model card"
"$py" "$here/write_model_card.py" "$work/corpus" "$work/model"
echo "== 5. install into public/"
mkdir -p "$model_out"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json generation_config.json MODEL_CARD.md validation.txt; do
  cp "$work/model/$f" "$model_out/$f"
done
"$py" "$here/make_datasets.py" "$repo/public/datasets"
echo "done: $model_out"
