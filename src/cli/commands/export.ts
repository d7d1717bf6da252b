/**
 * peft-studio export --model M --adapter A --out DIR [--format merged] [--dtype F32|F16|BF16]
 * The base model with the adapter merged into its weights (PEFT's merge_and_unload), written in Hugging Face's
 * layout (src/deploy/merged-model.ts): transformers' AutoModelForCausalLM.from_pretrained(DIR) and
 * `peft-studio score --model DIR` load it without the adapter.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportMergedModel, MERGED_DTYPES } from '../../deploy/merged-model';
import { readAdapterFiles } from '../../peft/adapter-files';
import { CliUsageError } from '../errors';
import { choice, str, type CliFlags, type Values } from '../flags';
import { loadProgress } from '../progress';
import { modelSource } from '../session';

const EXPORT_FORMATS = ['merged'] as const;

export const EXPORT_FLAGS: CliFlags = {
  model: { type: 'string', value: 'M', required: true, help: 'The base model, as for train; its weights are read again from there, never from a quantized copy.' },
  adapter: { type: 'string', value: 'DIR|REPO', required: true, help: 'The PEFT adapter to merge (LoRA; a prompt-learning adapter cannot be merged and is refused).' },
  out: { type: 'string', value: 'DIR', required: true, help: 'An empty or new folder for config.json, generation_config.json, the tokenizer files and model.safetensors.' },
  format: { type: 'string', value: EXPORT_FORMATS.join('|'), default: 'merged', help: 'merged: the base model with the adapter merged into its weights, in Hugging Face layout.' },
  dtype: { type: 'string', value: MERGED_DTYPES.join('|'), default: 'F32', help: "model.safetensors' dtype (config.json's torch_dtype follows)." },
};

async function emptyOrNew(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw new CliUsageError(`--out ${dir}: ${e.message}`);
  });
  if (entries.length > 0) throw new CliUsageError(`--out ${dir} is not empty (it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); give a new or empty folder`);
}

export async function exportCommand(values: Values): Promise<void> {
  const modelArg = str(values, 'model', true);
  const adapterArg = str(values, 'adapter', true);
  const out = str(values, 'out', true);
  choice(values, 'format', EXPORT_FORMATS, 'merged');
  const dtype = choice(values, 'dtype', MERGED_DTYPES, 'F32');
  await emptyOrNew(out);

  let adapterSource;
  try {
    adapterSource = modelSource(adapterArg);
  } catch {
    throw new CliUsageError(`--adapter ${adapterArg}: no such folder, and not a Hub repo id like "owner/name"`);
  }
  const adapterFiles = await readAdapterFiles(adapterSource);
  const load = loadProgress();
  const merged = await exportMergedModel(modelSource(modelArg), adapterFiles, { dtype, onProgress: load.onProgress }).finally(() => load.done());
  for (const w of merged.warnings) process.stderr.write(`warning: ${w}\n`);
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of merged.files) await writeFile(join(out, name), bytes);
  const size = merged.files.get('model.safetensors')!.length;
  process.stderr.write(`${merged.method} adapter merged into ${modelArg}; wrote ${[...merged.files.keys()].join(', ')} to ${out} (model.safetensors ${dtype}, ${(size / 2 ** 20).toFixed(1)} MiB)\n`);
}
