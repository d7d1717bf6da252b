/** peft-studio make-tiny-model --arch gpt2|llama|qwen2 --out DIR [--dtype F32|F16|BF16] [--seed N] [--shards N] */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTinyModel, shardCheckpoint } from '../../model-io/tiny-models';
import { choice, num, str } from '../options';

export const MAKE_TINY_MODEL_OPTIONS = {
  arch: { type: 'string' },
  out: { type: 'string' },
  dtype: { type: 'string' },
  seed: { type: 'string' },
  shards: { type: 'string' },
} as const;

export async function makeTinyModelCommand(values: Record<string, string | boolean | undefined>): Promise<void> {
  const arch = choice(values, 'arch', ['gpt2', 'llama', 'qwen2'] as const, 'llama');
  const out = str(values, 'out', true);
  const model = makeTinyModel(arch, { dtype: choice(values, 'dtype', ['F32', 'F16', 'BF16'] as const, 'F32'), seed: num(values, 'seed', 0, { int: true, min: 0 }) });
  // More than one shard writes model.safetensors.index.json and model-0000i-of-0000n.safetensors, as save_pretrained does.
  const shards = num(values, 'shards', 1, { int: true, min: 1 });
  const files = shards > 1 ? shardCheckpoint(model, shards) : model;
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of files) await writeFile(join(out, name), bytes);
  process.stderr.write(`wrote a tiny ${arch} model to ${out}: ${[...files.keys()].join(', ')}\n`);
}
