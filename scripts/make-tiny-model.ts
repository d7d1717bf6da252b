/**
 * `npm run make-tiny-model -- --arch gpt2|llama|qwen2 --out DIR [--dtype F32|F16|BF16] [--seed 0] [--shards 1]`
 * `npm run make-tiny-model -- --like smollm2-135m|smollm2-360m|qwen2.5-0.5b|tinyllama-1.1b [--layers N] --out DIR
 *   [--dtype F32|F16|BF16] [--seed 0] [--shards 1]`
 *
 * A development tool, not part of the product. `--arch` writes one of the tests' deterministic tiny models
 * (tests/fixtures/tiny-models.ts, makeTinyModel) to a folder in Hugging Face's layout, to try the CLI or the
 * studio on something that trains in seconds. `--like` writes a model with the real config.json of a known
 * checkpoint (src/model/presets.ts, makeLikeModel) — its vocabulary, head layout and sizes — with random weights
 * and a tokenizer as large as the real one, and `--layers N` in place of the real layer count (default: the real
 * count); to try real shapes without downloading them. `--arch` and `--like` are alternatives (default
 * `--arch llama`). More than one shard writes model.safetensors.index.json and model-0000i-of-0000n.safetensors,
 * as save_pretrained does. Errors exit 1 with one line saying why.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CliUsageError } from '../src/cli/errors';
import { choice, num, str } from '../src/cli/flags';
import { MODEL_PRESET_NAMES } from '../src/model/presets';
import { makeLikeModel, makeTinyModel, shardCheckpoint, TINY_MODEL_KINDS } from '../tests/fixtures/tiny-models';

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv[0] === '--' ? argv.slice(1) : argv,
    options: {
      arch: { type: 'string' },
      like: { type: 'string' },
      layers: { type: 'string' },
      out: { type: 'string' },
      dtype: { type: 'string' },
      seed: { type: 'string' },
      shards: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.arch !== undefined && values.like !== undefined) {
    throw new CliUsageError('--arch and --like are alternatives: --arch makes a tiny model, --like one with the shapes of a real checkpoint; give one');
  }
  if (values.layers !== undefined && values.like === undefined) {
    throw new CliUsageError('--layers goes with --like (the tiny models of --arch have 2 layers)');
  }
  const out = str(values, 'out', true);
  const dtype = choice(values, 'dtype', ['F32', 'F16', 'BF16'] as const, 'F32');
  const seed = num(values, 'seed', 0, { int: true, min: 0 });
  const shards = num(values, 'shards', 1, { int: true, min: 1 });
  let model: Map<string, Uint8Array<ArrayBuffer>>;
  let what: string;
  if (values.like !== undefined) {
    const like = choice(values, 'like', MODEL_PRESET_NAMES, 'smollm2-135m');
    const layers = values.layers === undefined ? undefined : num(values, 'layers', 1, { int: true, min: 1 });
    model = makeLikeModel(like, { layers, dtype, seed });
    what = `a model like ${like}${layers === undefined ? '' : ` with ${layers} layer${layers === 1 ? '' : 's'}`}`;
  } else {
    const arch = choice(values, 'arch', TINY_MODEL_KINDS, 'llama');
    model = makeTinyModel(arch, { dtype, seed });
    what = `a tiny ${arch} model`;
  }
  const files = shards > 1 ? shardCheckpoint(model, shards) : model;
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of files) await writeFile(join(out, name), bytes);
  process.stderr.write(`wrote ${what} to ${out}: ${[...files.keys()].join(', ')}\n`);
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`make-tiny-model: ${(e as Error).message.split('\n')[0]}\n`);
  process.exit(1);
}
