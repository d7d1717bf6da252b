/**
 * A merged export: the base model with an adapter folded into its weights (PEFT's `merge_and_unload`), in Hugging
 * Face's folder layout, which transformers' AutoModelForCausalLM and the studio's own loader read:
 * - `model.safetensors`: every tensor under the name transformers' `save_pretrained` writes (the module paths of
 *   GPT2LMHeadModel / LlamaForCausalLM / Qwen2ForCausalLM; no lm_head.weight when it is tied to the embedding), in
 *   F32, F16 or BF16, with the `{"format": "pt"}` metadata transformers expects;
 * - `config.json`: the source's, with `torch_dtype` set to the written dtype;
 * - `generation_config.json`: the source's, or the one transformers derives from config.json;
 * - the tokenizer files the source has.
 * The weights are read again from the model's source (never a quantized copy on the GPU); methods that do not
 * change weights are refused with the method's reason.
 */
import { methodOfFiles } from '../methods/registry';
import type { ModelConfig } from '../model/config';
import type { HostWeights } from '../model/weight-names';
import { loadModel, type LoadedModel, type LoadProgress } from '../model-io/load-model';
import type { ModelSource } from '../model-io/model-source';
import { writeSafetensors } from '../model-io/safetensors';
import { ADAPTER_CONFIG_FILE } from '../peft/adapter-files';
import { MERGED_DTYPES, type MergedDtype } from './merged-dtype';

export { MERGED_DTYPES, type MergedDtype };

/** torch_dtype in config.json for each safetensors dtype. */
const TORCH_DTYPE: Record<MergedDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** The tokenizer files of a Hugging Face folder that a merged export copies when the source has them. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
] as const;

export class MergeRefusedError extends Error {
  override name = 'MergeRefusedError';
}

export interface MergedExport {
  /** The folder's files by name. */
  files: Map<string, Uint8Array>;
  /** What merging let pass with a warning (as PEFT's loading would). */
  warnings: string[];
  /** The method merged, e.g. "LoRA". */
  method: string;
}

export interface MergeOptions {
  dtype?: MergedDtype;
  onProgress?: (p: LoadProgress) => void;
}

/** generation_config.json as transformers' GenerationConfig.from_model_config derives it from config.json. */
function derivedGenerationConfig(config: ModelConfig): Record<string, unknown> {
  const eos = config.eosTokenIds;
  const out: Record<string, unknown> = { _from_model_config: true };
  if (config.bosTokenId !== null) out.bos_token_id = config.bosTokenId;
  if (eos.length > 0) out.eos_token_id = eos.length === 1 ? eos[0] : [...eos];
  if (config.padTokenId !== null) out.pad_token_id = config.padTokenId;
  return out;
}

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

/** The base model's weights with the adapter merged in, read again from the model's source. */
export interface MergedWeights {
  loaded: LoadedModel;
  weights: HostWeights;
  warnings: string[];
  method: string;
}

/**
 * Merges an adapter's PEFT files (adapter_config.json and adapter_model.safetensors) into the base model read from
 * `source`. Throws MergeRefusedError for a method that cannot be merged, and the adapter reader's errors (naming
 * the file and tensor) for an adapter that does not fit this model.
 */
export async function mergeIntoSource(source: ModelSource, adapterFiles: ReadonlyMap<string, Uint8Array>, onProgress?: (p: LoadProgress) => void): Promise<MergedWeights> {
  const method = methodOfFiles(adapterFiles);
  if (method.merge.kind === 'refused') {
    throw new MergeRefusedError(`${ADAPTER_CONFIG_FILE}: a ${method.label} adapter (peft_type ${method.peftType}) cannot be merged into the model: ${method.merge.why}`);
  }
  const loaded = await loadModel(source, { onProgress });
  const { weights, warnings } = method.merge.apply(adapterFiles, loaded.config, loaded.weights);
  return { loaded, weights, warnings, method: method.label };
}

/** What every exported folder holds besides the weights: config.json (with `extraConfig`), generation_config.json and the tokenizer files. */
export async function modelFolderFiles(source: ModelSource, loaded: LoadedModel, extraConfig: Record<string, unknown>): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  files.set('config.json', jsonBytes({ ...loaded.rawConfig, ...extraConfig }));
  files.set('generation_config.json', jsonBytes(loaded.generationConfig ?? derivedGenerationConfig(loaded.config)));
  for (const name of TOKENIZER_FILES) if (await source.exists(name)) files.set(name, await source.read(name));
  return files;
}

/** The merged model's folder, from the base model's source and an adapter's PEFT files (see mergeIntoSource). */
export async function exportMergedModel(source: ModelSource, adapterFiles: ReadonlyMap<string, Uint8Array>, opts: MergeOptions = {}): Promise<MergedExport> {
  const dtype = opts.dtype ?? 'F32';
  if (!(MERGED_DTYPES as readonly string[]).includes(dtype)) {
    throw new RangeError(`dtype ${JSON.stringify(dtype)} is not supported for a merged export; expected one of ${MERGED_DTYPES.join(', ')}`);
  }
  const merged = await mergeIntoSource(source, adapterFiles, opts.onProgress);
  const files = await modelFolderFiles(source, merged.loaded, { torch_dtype: TORCH_DTYPE[dtype] });
  files.set(
    'model.safetensors',
    writeSafetensors(
      [...merged.weights].map(([name, t]) => ({ name, dtype, shape: t.shape, data: t.data })),
      { format: 'pt' },
    ),
  );
  return { files, warnings: merged.warnings, method: merged.method };
}
