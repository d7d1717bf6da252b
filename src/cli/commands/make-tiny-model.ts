/** peft-studio make-tiny-model --arch gpt2|llama|qwen2 --out DIR [--dtype F32|F16|BF16] [--seed N] [--shards N] */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTinyModel, shardCheckpoint } from '../../model-io/tiny-models';
import { choice, num, str, type CliFlags, type Values } from '../flags';

const ARCHS = ['gpt2', 'llama', 'qwen2'] as const;
const DTYPES = ['F32', 'F16', 'BF16'] as const;

export const MAKE_TINY_MODEL_FLAGS: CliFlags = {
  out: { type: 'string', value: 'DIR', required: true, help: 'The folder to write the model to.' },
  arch: { type: 'string', value: ARCHS.join('|'), help: 'The architecture.', default: 'llama' },
  dtype: { type: 'string', value: DTYPES.join('|'), help: 'The dtype of the safetensors checkpoint.', default: 'F32' },
  seed: { type: 'string', value: '0', help: 'Seeds the random weights.', default: '0' },
  shards: { type: 'string', value: '1', help: 'Splits the checkpoint into this many files with an index, as save_pretrained does.', default: '1' },
};

export async function makeTinyModelCommand(values: Values): Promise<void> {
  const arch = choice(values, 'arch', ARCHS, 'llama');
  const out = str(values, 'out', true);
  const model = makeTinyModel(arch, { dtype: choice(values, 'dtype', DTYPES, 'F32'), seed: num(values, 'seed', 0, { int: true, min: 0 }) });
  // More than one shard writes model.safetensors.index.json and model-0000i-of-0000n.safetensors, as save_pretrained does.
  const shards = num(values, 'shards', 1, { int: true, min: 1 });
  const files = shards > 1 ? shardCheckpoint(model, shards) : model;
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of files) await writeFile(join(out, name), bytes);
  process.stderr.write(`wrote a tiny ${arch} model to ${out}: ${[...files.keys()].join(', ')}\n`);
}
