#!/usr/bin/env bash
# Runs bench:train (--kernels tiled) and bench:kernels on this machine's GPU through Node + Dawn + Vulkan, from a
# pack made by bench/gpu/pack.mjs (see README.md beside this file). Needs bash, and xz or python3 to unpack.
#
#   ./run.sh            the full run: every tiny model and the default model in every weight format, both kernel sizes
#   ./run.sh --quick    a smoke run: tiny-llama f32, 2 steps, and the small kernel shapes
#
# Results go to $RESULTS, else $OUT, else ./results: env.txt, adapter.json, train.jsonl, train-profile.jsonl
# (when the adapter has timestamp queries), kernels.jsonl, summary.md (Markdown for the README) and run.log.
#
# Environment:
#   TRAIN_ARGS    extra bench:train flags (default: --steps 10; --quick: --models llama --formats f32 --steps 2)
#   KERNELS_ARGS  extra bench:kernels flags (default: --reps 9; --quick: --quick --reps 3)
#   PROFILE=0     skip the second bench:train run with --profile (GPU time per kernel)
#   REAL_SHAPE_ARGS  the real-shape rows (SmolLM2-135M's full shape, random weights), appended to train.jsonl, each
#                 without and with gradient checkpointing (default: --models smollm2-135m --formats nf4 --batch 4
#                 --seq 512 --steps 3; skipped with --quick or REAL_SHAPE_ARGS=)
#   ALLOW_CPU=1   run even when the adapter is a CPU driver (SwiftShader, llvmpipe): for trying the pack without a GPU
#   VULKAN_FROM_PACK=1   use the pack's Vulkan loader even when the system has one
#   NODE          the node binary to use (default: the pack's bin/node, else node on PATH)
#   VK_DRIVER_FILES / VK_ICD_FILENAMES   the Vulkan driver manifest; found by this script when unset
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QUICK=0
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $arg (try --help)" >&2; exit 64 ;;
  esac
done
if [ "$QUICK" = 1 ]; then
  TRAIN_ARGS=${TRAIN_ARGS---models llama --formats f32 --steps 2}
  KERNELS_ARGS=${KERNELS_ARGS---quick --reps 3}
  REAL_SHAPE_ARGS=${REAL_SHAPE_ARGS-}
else
  TRAIN_ARGS=${TRAIN_ARGS---steps 10}
  KERNELS_ARGS=${KERNELS_ARGS---reps 9}
  REAL_SHAPE_ARGS=${REAL_SHAPE_ARGS---models smollm2-135m --formats nf4 --batch 4 --seq 512 --steps 3}
fi

RESULTS=${RESULTS:-${OUT:-$PWD/results}}
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
: >"$RESULTS/run.log"
exec > >(tee -a "$RESULTS/run.log") 2>&1
ENV_TXT=$RESULTS/env.txt
: >"$ENV_TXT"
note() { printf '%s: %s\n' "$1" "$2" | tee -a "$ENV_TXT"; }

# xz -d, or Python's lzma where xz is missing.
unxz_to() {
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$1" >"$2.part"
  else
    python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"), 1 << 20)' "$1" "$2.part"
  fi
  mv "$2.part" "$2"
}

# dpkg -x, or the .deb (an ar archive holding data.tar.*) opened with Python where dpkg is missing.
deb_x() {
  if command -v dpkg >/dev/null 2>&1; then
    dpkg -x "$1" "$2"
  else
    python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'!<arch>\n', 'not a .deb'
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip('/')
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith('data.tar'):
        if name.endswith('.zst'):
            sys.exit('this .deb is zstd-compressed; Python cannot open it: install dpkg, or carry an xz-compressed .deb (Debian)')
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
        break
    pos += 60 + size + (size & 1)
else:
    sys.exit('no data.tar in the .deb')
PY
  fi
}

ldconfig_p() { { command -v ldconfig >/dev/null 2>&1 && ldconfig -p; } || /sbin/ldconfig -p 2>/dev/null || true; }

echo "== PEFT Studio GPU benchmarks ($(date -u +%Y-%m-%dT%H:%M:%SZ)), pack: $HERE, results: $RESULTS"
note date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
note host "$(uname -srm)"

# ---- the GPU ------------------------------------------------------------------------------------------------------
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi -L | sed 's/ (UUID: [^)]*)//' | while read -r line; do note nvidia_smi "$line"; done
  note gpu "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
  note driver "$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)"
  note gpu_memory "$(nvidia-smi --query-gpu=memory.total --format=csv,noheader | head -1)"
else
  note gpu "unknown (no nvidia-smi)"
fi

# ---- Node ---------------------------------------------------------------------------------------------------------
if [ -z "${NODE:-}" ]; then
  if [ -f "$HERE/bin/node.xz" ] && [ ! -x "$HERE/bin/node" ]; then
    echo "unpacking bin/node.xz"
    unxz_to "$HERE/bin/node.xz" "$HERE/bin/node"
    chmod +x "$HERE/bin/node"
  fi
  if [ -x "$HERE/bin/node" ]; then NODE=$HERE/bin/node; else NODE=$(command -v node || true); fi
fi
if [ -z "$NODE" ]; then
  echo "run.sh: no Node: the pack carries none (packed with --no-node) and node is not on PATH; set NODE=/path/to/node (≥ 20.19)" >&2
  exit 1
fi
note node "$("$NODE" --version) ($NODE)"

# ---- Dawn (the webgpu package's addon) -----------------------------------------------------------------------------
DAWN=$HERE/node_modules/webgpu/dist/linux-x64/dawn.node
if [ ! -f "$DAWN" ] && [ -f "$DAWN.xz" ]; then
  echo "unpacking dawn.node.xz"
  unxz_to "$DAWN.xz" "$DAWN"
fi

# ---- the Vulkan loader ---------------------------------------------------------------------------------------------
if [ "${VULKAN_FROM_PACK:-0}" != 1 ] && ldconfig_p | grep -q 'libvulkan\.so\.1 '; then
  note vulkan_loader "system ($(ldconfig_p | grep -m1 'libvulkan\.so\.1 ' | sed 's/.*=> //'))"
else
  deb=$(ls "$HERE"/deb/libvulkan1_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    echo "run.sh: this machine has no libvulkan.so.1 and the pack carries no deb/libvulkan1_*.deb (see README.md)" >&2
    exit 1
  fi
  if [ ! -d "$HERE/vulkan" ]; then
    echo "unpacking $(basename "$deb") into $HERE/vulkan"
    deb_x "$deb" "$HERE/vulkan"
  fi
  libdir=$(dirname "$(find "$HERE/vulkan" -name 'libvulkan.so.1*' | head -1)")
  export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  note vulkan_loader "pack ($(basename "$deb"), LD_LIBRARY_PATH=$libdir)"
fi
# NVIDIA's container runtime mounts the driver's libraries here, not always where ldconfig looks.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  if [ -d "$d" ]; then export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; fi
done

# ---- the Vulkan driver manifest (ICD) ------------------------------------------------------------------------------
# src/gpu/node-gpu.ts uses the system's drivers when VK_ICD_FILENAMES is set or a manifest sits in the loader's
# default folders; else it falls back to SwiftShader. NVIDIA's manifest is often under /usr/local/nvidia in
# containers, which the loader does not search: name it in both variables (VK_DRIVER_FILES is the loader's newer name).
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json \
    /usr/local/share/vulkan/icd.d/nvidia_icd*.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd*.json \
    /usr/local/nvidia/icd.d/nvidia_icd*.json /usr/local/nvidia/etc/vulkan/icd.d/nvidia_icd*.json; do
    if [ -f "$f" ]; then
      export VK_DRIVER_FILES=$f VK_ICD_FILENAMES=$f
      break
    fi
  done
elif [ -z "${VK_ICD_FILENAMES:-}" ]; then
  export VK_ICD_FILENAMES=$VK_DRIVER_FILES
elif [ -z "${VK_DRIVER_FILES:-}" ]; then
  export VK_DRIVER_FILES=$VK_ICD_FILENAMES
fi
note vk_driver_files "${VK_DRIVER_FILES:-none found, Dawn searches the default folders of the loader}"

cd "$HERE"

# ---- the adapter ---------------------------------------------------------------------------------------------------
REQUIRE=--require-gpu
[ "${ALLOW_CPU:-0}" = 1 ] && REQUIRE=
echo "== adapter"
"$NODE" bench/adapter.mjs $REQUIRE >"$RESULTS/adapter.json"
adapter=$("$NODE" -e 'const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(a.adapter)' "$RESULTS/adapter.json")
timestamps=$("$NODE" -e 'const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(a.report.timestampQuery ? 1 : 0)' "$RESULTS/adapter.json")
note adapter "$adapter"
note train_args "--kernels tiled $TRAIN_ARGS"
note kernels_args "$KERNELS_ARGS"
note real_shape_args "$REAL_SHAPE_ARGS"

# ---- bench:train ---------------------------------------------------------------------------------------------------
echo "== bench:train --kernels tiled --json $TRAIN_ARGS"
# shellcheck disable=SC2086
"$NODE" bench/train.mjs --kernels tiled --json $TRAIN_ARGS | tee "$RESULTS/train.jsonl"
if [ "${PROFILE:-1}" != 0 ] && [ "$timestamps" = 1 ]; then
  echo "== bench:train --kernels tiled --json --profile $TRAIN_ARGS"
  # shellcheck disable=SC2086
  "$NODE" bench/train.mjs --kernels tiled --json --profile $TRAIN_ARGS >"$RESULTS/train-profile.jsonl"
  echo "(per-kernel GPU times in train-profile.jsonl)"
elif [ "$timestamps" != 1 ]; then
  echo "(no --profile run: the adapter has no timestamp-query feature)"
fi

if [ -n "$REAL_SHAPE_ARGS" ]; then
  for extra in "" "--gradient-checkpointing"; do
    echo "== bench:train --kernels tiled --json $REAL_SHAPE_ARGS $extra"
    # shellcheck disable=SC2086
    "$NODE" bench/train.mjs --kernels tiled --json $REAL_SHAPE_ARGS $extra | tee -a "$RESULTS/train.jsonl"
  done
fi

# ---- bench:kernels -------------------------------------------------------------------------------------------------
echo "== bench:kernels --json $KERNELS_ARGS"
# shellcheck disable=SC2086
"$NODE" bench/kernels.mjs --json $KERNELS_ARGS | tee "$RESULTS/kernels.jsonl"

# ---- summary -------------------------------------------------------------------------------------------------------
"$NODE" bench/summarize.mjs "$RESULTS" >"$RESULTS/summary.md"
echo "== summary ($RESULTS/summary.md)"
cat "$RESULTS/summary.md"
