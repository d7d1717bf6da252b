/**
 * peft-studio export --model M --adapter A --out DIR [--format merged|onnx] [--dtype F32|F16|BF16] [--quant q8,q4]
 * - merged: the base model with the adapter merged into its weights (PEFT's merge_and_unload), written in Hugging
 *   Face's layout (src/deploy/merged-model.ts): transformers' AutoModelForCausalLM.from_pretrained(DIR) and
 *   `peft-studio score --model DIR` load it without the adapter;
 * - onnx: the merged model as ONNX for transformers.js (src/deploy/onnx-export.ts): its pipeline('text-generation')
 *   loads DIR, with q8/q4 variants under transformers.js's file names, and external data over 2 GB.
 */
import { exportMergedModel, MERGED_DTYPES } from '../../deploy/merged-model';
import { EXTERNAL_DATA_MODES, exportOnnx, ONNX_LAYOUTS, type OnnxQuant } from '../../deploy/onnx-export';
import { readAdapterFiles } from '../../peft/adapter-files';
import { CliUsageError } from '../errors';
import { choice, str, type CliFlags, type Values } from '../flags';
import { emptyOrNew, writeFolder } from '../out-folder';
import { loadProgress } from '../progress';
import { modelSource } from '../session';

const EXPORT_FORMATS = ['merged', 'onnx'] as const;
const QUANTS = ['q8', 'q4'] as const;

export const EXPORT_FLAGS: CliFlags = {
  model: { type: 'string', value: 'M', required: true, help: 'The base model, as for train; its weights are read again from there, never from a quantized copy.' },
  adapter: { type: 'string', value: 'DIR|REPO', required: true, help: 'The PEFT adapter to merge (LoRA; a prompt-learning adapter cannot be merged and is refused).' },
  out: { type: 'string', value: 'DIR', required: true, help: 'An empty or new folder for config.json, generation_config.json, the tokenizer files and the weights.' },
  format: {
    type: 'string',
    value: EXPORT_FORMATS.join('|'),
    default: 'merged',
    help: 'merged: the base model with the adapter merged into its weights, in Hugging Face layout (model.safetensors). onnx: the merged model as ONNX for transformers.js (onnx/*.onnx).',
  },
  dtype: { type: 'string', value: MERGED_DTYPES.join('|'), default: 'F32', help: "merged: model.safetensors' dtype (config.json's torch_dtype follows). ONNX is written in float32." },
  quant: { type: 'string', value: 'q8[,q4]', help: 'onnx: quantized variants to write next to the float32 model: q8 (model_quantized.onnx, decoder_model_merged_quantized.onnx), q4 (model_q4.onnx, MatMulNBits).' },
  'onnx-layout': { type: 'string', value: ONNX_LAYOUTS.join('|'), default: 'both', help: 'onnx: v3 = @huggingface/transformers (onnx/model*.onnx), v2 = @xenova/transformers 2 (onnx/decoder_model_merged*.onnx), or both.' },
  'external-data': { type: 'string', value: EXTERNAL_DATA_MODES.join('|'), default: 'auto', help: 'onnx: weights in a separate .onnx_data file: when over protobuf\'s 2 GB limit (auto), always, or never (then a model over 2 GB is refused).' },
};

function quantList(values: Values): OnnxQuant[] {
  const raw = str(values, 'quant');
  if (raw === undefined) return [];
  const list = raw.split(',').map((q) => q.trim());
  for (const q of list) {
    if (!(QUANTS as readonly string[]).includes(q)) throw new CliUsageError(`--quant ${raw}: "${q}" is not a quantization; expected ${QUANTS.join(' or ')} (comma-separated for both)`);
  }
  return list as OnnxQuant[];
}

export async function exportCommand(values: Values): Promise<void> {
  const modelArg = str(values, 'model', true);
  const adapterArg = str(values, 'adapter', true);
  const out = str(values, 'out', true);
  const format = choice(values, 'format', EXPORT_FORMATS, 'merged');
  const dtype = choice(values, 'dtype', MERGED_DTYPES, 'F32');
  const quants = quantList(values);
  const layout = choice(values, 'onnx-layout', ONNX_LAYOUTS, 'both');
  const externalData = choice(values, 'external-data', EXTERNAL_DATA_MODES, 'auto');
  if (format === 'merged' && quants.length > 0) throw new CliUsageError('--quant applies to --format onnx; a merged export is written in --dtype');
  if (format === 'onnx' && dtype !== 'F32') throw new CliUsageError(`--dtype ${dtype} applies to --format merged; ONNX is written in float32, with --quant q8 or q4 for smaller variants`);
  await emptyOrNew(out);

  let adapterSource;
  try {
    adapterSource = modelSource(adapterArg);
  } catch {
    throw new CliUsageError(`--adapter ${adapterArg}: no such folder, and not a Hub repo id like "owner/name"`);
  }
  const adapterFiles = await readAdapterFiles(adapterSource);
  const load = loadProgress();
  const exported =
    format === 'merged'
      ? await exportMergedModel(modelSource(modelArg), adapterFiles, { dtype, onProgress: load.onProgress }).finally(() => load.done())
      : await exportOnnx(modelSource(modelArg), adapterFiles, {
          quants,
          layout,
          externalData,
          onProgress: load.onProgress,
          onStep: (what) => process.stderr.write(`${what}\n`),
        }).finally(() => load.done());
  for (const w of exported.warnings) process.stderr.write(`warning: ${w}\n`);
  await writeFolder(out, exported.files);
  const weights = [...exported.files].filter(([n]) => n.endsWith('.safetensors') || n.includes('.onnx'));
  const sizes = weights.map(([n, b]) => `${n} ${(b.length / 2 ** 20).toFixed(1)} MiB`).join(', ');
  process.stderr.write(`${exported.method} adapter merged into ${modelArg}; wrote ${[...exported.files.keys()].join(', ')} to ${out} (${format === 'merged' ? `${dtype}: ` : ''}${sizes})\n`);
}
