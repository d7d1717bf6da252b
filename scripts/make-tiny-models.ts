/**
 * Writes the tiny Hugging Face-format models (src/model-io/tiny-models.ts) to folders, for demos and for
 * checking them with Python transformers:
 *
 *   npx vite-node scripts/make-tiny-models.ts -- <outDir> [--dtype F32|F16|BF16] [--seed N] [--shards N]
 *
 * creates <outDir>/tiny-gpt2, <outDir>/tiny-llama and <outDir>/tiny-qwen2.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SafetensorsDtype } from '../src/model-io/safetensors';
import { makeTinyModel, shardCheckpoint, TINY_MODEL_KINDS } from '../src/model-io/tiny-models';

function usage(msg: string): never {
  console.error(`${msg}\nusage: vite-node scripts/make-tiny-models.ts -- <outDir> [--dtype F32|F16|BF16] [--seed N] [--shards N]`);
  process.exit(2);
}

const args = process.argv.slice(2).filter((a) => a !== '--');
let outDir: string | null = null;
let dtype: SafetensorsDtype = 'F32';
let seed = 0;
let shards = 1;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--dtype') {
    const v = args[++i];
    if (v !== 'F32' && v !== 'F16' && v !== 'BF16') usage(`--dtype must be F32, F16 or BF16, got ${v}`);
    dtype = v;
  } else if (a === '--seed' || a === '--shards') {
    const v = Number(args[++i]);
    if (!Number.isInteger(v) || v < 0) usage(`${a} needs a non-negative integer`);
    if (a === '--seed') seed = v;
    else shards = Math.max(1, v);
  } else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else if (outDir === null) outDir = a;
  else usage(`unexpected argument ${a}`);
}
if (outDir === null) usage('missing <outDir>');

for (const kind of TINY_MODEL_KINDS) {
  let files = makeTinyModel(kind, { dtype, seed });
  if (shards > 1) files = shardCheckpoint(files, shards);
  const dir = resolve(join(outDir, `tiny-${kind}`));
  mkdirSync(dir, { recursive: true });
  let bytes = 0;
  for (const [name, data] of files) {
    writeFileSync(join(dir, name), data);
    bytes += data.byteLength;
  }
  console.log(`${dir}: ${files.size} files, ${bytes} bytes`);
}
