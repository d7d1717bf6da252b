/**
 * `npm run make-tiny-model -- --arch gpt2|llama|qwen2 --out DIR [--dtype F32|F16|BF16] [--seed 0] [--shards 1]`
 *
 * A development tool, not part of the product: writes one of the tests' deterministic tiny models
 * (tests/fixtures/tiny-models.ts) to a folder in Hugging Face's layout, to try the CLI or the studio on
 * something that trains in seconds. More than one shard writes model.safetensors.index.json and
 * model-0000i-of-0000n.safetensors, as save_pretrained does. Errors exit 1 with one line saying why.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { choice, num, str } from '../src/cli/flags';
import { makeTinyModel, shardCheckpoint, TINY_MODEL_KINDS } from '../tests/fixtures/tiny-models';

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv[0] === '--' ? argv.slice(1) : argv,
    options: { arch: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' }, seed: { type: 'string' }, shards: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const arch = choice(values, 'arch', TINY_MODEL_KINDS, 'llama');
  const out = str(values, 'out', true);
  const model = makeTinyModel(arch, { dtype: choice(values, 'dtype', ['F32', 'F16', 'BF16'] as const, 'F32'), seed: num(values, 'seed', 0, { int: true, min: 0 }) });
  const shards = num(values, 'shards', 1, { int: true, min: 1 });
  const files = shards > 1 ? shardCheckpoint(model, shards) : model;
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of files) await writeFile(join(out, name), bytes);
  process.stderr.write(`wrote a tiny ${arch} model to ${out}: ${[...files.keys()].join(', ')}\n`);
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`make-tiny-model: ${(e as Error).message.split('\n')[0]}\n`);
  process.exit(1);
}
