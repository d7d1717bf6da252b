/** peft-studio make-tiny-model --arch gpt2|llama|qwen2 --out DIR [--dtype F32|F16|BF16] [--seed N] */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTinyModel } from '../../model-io/tiny-models';
import { choice, num, str } from '../options';

export const MAKE_TINY_MODEL_OPTIONS = {
  arch: { type: 'string' },
  out: { type: 'string' },
  dtype: { type: 'string' },
  seed: { type: 'string' },
} as const;

export async function makeTinyModelCommand(values: Record<string, string | boolean | undefined>): Promise<void> {
  const arch = choice(values, 'arch', ['gpt2', 'llama', 'qwen2'] as const, 'llama');
  const out = str(values, 'out', true);
  const files = makeTinyModel(arch, { dtype: choice(values, 'dtype', ['F32', 'F16', 'BF16'] as const, 'F32'), seed: num(values, 'seed', 0, { int: true, min: 0 }) });
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of files) await writeFile(join(out, name), bytes);
  process.stderr.write(`wrote a tiny ${arch} model to ${out}: ${[...files.keys()].join(', ')}\n`);
}
