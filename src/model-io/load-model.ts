/**
 * Loads a Hugging Face model folder (config.json, a safetensors checkpoint, tokenizer files) from any
 * ModelSource into f32 host weights under canonical names, checked against the tensors the config implies: every
 * one must be there with its shape and finite values, and nothing else may be (but buffers and a tied lm_head copy,
 * which are skipped). Every check runs before anything is returned.
 */
import { configKeysOf } from '../model/architectures/index';
import { parseModelConfig, type ModelConfig } from '../model/config';
import { canonicalTensorName, expectedTensors, tensorFootprint, type HostWeights } from '../model/weight-names';
import { assertSafeFileName, type ModelSource } from './model-source';
import { parseSafetensors, tensorToFloat32, type SafetensorsFile } from './safetensors';

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

export type LoadPhase = 'config' | 'tokenizer' | 'checkpoint' | 'weights' | 'validate' | 'done';

export interface LoadProgress {
  phase: LoadPhase;
  /** A sentence for the UI, e.g. "reading model-00001-of-00002.safetensors (file 1 of 2)". */
  message: string;
  /** Set while a file is read. */
  file?: string;
  loaded?: number;
  total?: number | null;
  /** Checkpoint files: which one (1-based) of how many. */
  fileIndex?: number;
  fileCount?: number;
}

export interface LoadModelOptions {
  onProgress?: (p: LoadProgress) => void;
}

export interface LoadedModel {
  config: ModelConfig;
  rawConfig: Record<string, unknown>;
  /** Every tensor of expectedTensors(config), by canonical name, as f32. */
  weights: HostWeights;
  tokenizerJson: unknown;
  /** tokenizer_config.json, or {} when the folder has none. */
  tokenizerConfig: Record<string, unknown>;
  generationConfig: Record<string, unknown> | null;
  /** The source's description. */
  source: string;
  /** Checkpoint files read, in order. */
  checkpointFiles: string[];
  /**
   * Checkpoint entries skipped because they are not weights, as stored: buffers old checkpoints saved (GPT-2's
   * attn.bias / attn.masked_bias, RoPE's inv_freq) and a tied lm_head.weight copy. Any other tensor the config does
   * not imply is refused.
   */
  ignoredTensors: string[];
}

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
const PICKLE_RE = /\.(bin|pt|pth|ckpt)$/;
const PICKLE_CANDIDATES = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'model.pt', 'model.bin'];

const CONVERT_HINT =
  'convert it with transformers (`AutoModelForCausalLM.from_pretrained(path).save_pretrained(out, safe_serialization=True)`) ' +
  'or the Hub\'s converter at https://huggingface.co/spaces/safetensors/convert, or pick a revision that has model.safetensors';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readJson(source: ModelSource, file: string, required: boolean): Promise<unknown> {
  if (!(await source.exists(file))) {
    if (required) throw new ModelLoadError(`${source.description}: ${file} not found`);
    return undefined;
  }
  const bytes = await source.read(file);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ModelLoadError(`${source.description}: ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

function shapeText(s: number[]): string {
  return `[${s.join(', ')}]`;
}

/**
 * The tensors config.json implies, by name, once `tensorCount` (what the checkpoint holds) shows that its layer count
 * can match: a config claiming more layers than the checkpoint has tensors for is refused before anything loops over
 * those layers (a layer count of 2^31 would otherwise run for ever).
 */
function expectedShapes(config: ModelConfig, tensorCount: number, desc: string, file: string): Map<string, number[]> {
  const { tensorsPerLayer } = tensorFootprint(config);
  if (config.numLayers * tensorsPerLayer > tensorCount) {
    const key = configKeysOf(config).numLayers;
    throw new ModelLoadError(
      `${desc}: config.json: "${key}" is ${config.numLayers}, but ${file} lists only ${tensorCount} tensors, and each ${config.modelType} layer ` +
        `has ${tensorsPerLayer}: ${config.numLayers} layers need at least ${config.numLayers * tensorsPerLayer}; config.json and the checkpoint disagree`,
    );
  }
  return new Map(expectedTensors(config).map((t) => [t.name, t.shape]));
}

/** Why a checkpoint tensor is refused: a layer beyond the config's, or a name the model does not have. */
function notImplied(config: ModelConfig, name: string): string {
  const layer = /\.(\d+)\./.exec(name);
  const layers = `"${configKeysOf(config).numLayers}" is ${config.numLayers}`;
  if (layer && Number(layer[1]) >= config.numLayers) {
    return `belongs to layer ${layer[1]}, but config.json's ${layers} (layers 0 to ${config.numLayers - 1}); config.json and the checkpoint disagree`;
  }
  return `is not a weight of a ${config.modelType} model with this config.json (${layers}); expected only the tensors config.json implies`;
}

/**
 * The model's config.json, read and parsed (nothing else is read): the loader's first step, and all the memory plan
 * needs (the CLI's `plan` and `recipe`, the Model step). Errors name the source and the file.
 */
export async function readModelConfigFile(source: ModelSource): Promise<{ config: ModelConfig; raw: Record<string, unknown> }> {
  const raw = await readJson(source, 'config.json', true);
  if (!isObject(raw)) throw new ModelLoadError(`${source.description}: config.json must be a JSON object`);
  return { config: parseModelConfig(raw, 'config.json'), raw };
}

export async function loadModel(source: ModelSource, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const report = opts.onProgress ?? (() => undefined);
  const desc = source.description;

  report({ phase: 'config', message: 'reading config.json' });
  const { config, raw: rawConfig } = await readModelConfigFile(source);

  // Which checkpoint: one file, or shards with an index. Pickle checkpoints are refused.
  report({ phase: 'checkpoint', message: 'looking for the checkpoint' });
  const listed = source.list ? new Set(await source.list()) : null;
  const has = async (f: string) => (listed ? listed.has(f) : source.exists(f));
  let shardOf: Map<string, string> | null = null;
  let files: string[];
  if (await has(SINGLE)) {
    files = [SINGLE];
  } else if (await has(INDEX)) {
    const index = await readJson(source, INDEX, true);
    if (!isObject(index) || !isObject(index.weight_map)) {
      throw new ModelLoadError(`${desc}: ${INDEX} has no "weight_map" object; expected {"weight_map": {"tensor name": "shard file", ...}}`);
    }
    shardOf = new Map();
    for (const [key, shard] of Object.entries(index.weight_map)) {
      if (typeof shard !== 'string') throw new ModelLoadError(`${desc}: ${INDEX}: weight_map["${key}"] must be a file name, got ${JSON.stringify(shard)}`);
      try {
        assertSafeFileName(shard, `${desc}: ${INDEX}`);
      } catch (e) {
        throw new ModelLoadError((e as Error).message);
      }
      if (!shard.endsWith('.safetensors')) {
        throw new ModelLoadError(`${desc}: ${INDEX}: weight_map["${key}"] names "${shard}", which is not a .safetensors file`);
      }
      shardOf.set(key, shard);
    }
    files = [...new Set(shardOf.values())].sort();
    if (files.length === 0) throw new ModelLoadError(`${desc}: ${INDEX} has an empty weight_map`);
    for (const f of files) {
      if (!(await has(f))) {
        const keys = [...shardOf].filter(([, s]) => s === f).map(([k]) => k);
        throw new ModelLoadError(
          `${desc}: ${INDEX} puts ${keys.length} tensor(s) (e.g. "${keys[0]}") in shard "${f}", which is missing from ${desc}`,
        );
      }
    }
  } else {
    const pickles = listed ? [...listed].filter((f) => PICKLE_RE.test(f) || f === 'pytorch_model.bin.index.json') : [];
    if (!listed) for (const f of PICKLE_CANDIDATES) if (await source.exists(f)) pickles.push(f);
    if (pickles.length > 0) {
      throw new ModelLoadError(
        `${desc}: found only ${pickles.join(', ')}; only safetensors checkpoints are read (pickle files can run code); ${CONVERT_HINT}`,
      );
    }
    throw new ModelLoadError(`${desc}: no checkpoint: neither ${SINGLE} nor ${INDEX} is there`);
  }

  // Tokenizer files (before the weights, so that a missing tokenizer fails fast).
  report({ phase: 'tokenizer', message: 'reading tokenizer files' });
  const tokenizerJson = await readJson(source, 'tokenizer.json', false);
  if (tokenizerJson === undefined) {
    throw new ModelLoadError(`${desc}: tokenizer.json not found; only tokenizers saved in the fast format (tokenizer.json) are read`);
  }
  if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model)) throw new ModelLoadError(`${desc}: tokenizer.json has no "model" object`);
  const tokCfg = await readJson(source, 'tokenizer_config.json', false);
  if (tokCfg !== undefined && !isObject(tokCfg)) throw new ModelLoadError(`${desc}: tokenizer_config.json must be a JSON object`);
  const genCfg = await readJson(source, 'generation_config.json', false);
  if (genCfg !== undefined && !isObject(genCfg)) throw new ModelLoadError(`${desc}: generation_config.json must be a JSON object`);

  // Weights. The expected list is built once the checkpoint's tensor count bounds the layer count.
  let expected: Map<string, number[]> | null = shardOf ? expectedShapes(config, shardOf.size, desc, INDEX) : null;
  const weights: HostWeights = new Map();
  const foundIn = new Map<string, string>(); // canonical name -> "file: key"
  const ignored: string[] = [];
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const counter = files.length > 1 ? ` (file ${i + 1} of ${files.length})` : '';
    report({ phase: 'weights', message: `reading ${file}${counter}`, file, loaded: 0, total: null, fileIndex: i + 1, fileCount: files.length });
    const bytes = await source.read(file, (loaded, total) =>
      report({ phase: 'weights', message: `reading ${file}${counter}`, file, loaded, total, fileIndex: i + 1, fileCount: files.length }),
    );
    const st: SafetensorsFile = parseSafetensors(bytes, file);
    expected ??= expectedShapes(config, st.tensors.size, desc, file);
    if (shardOf) {
      for (const [key, shard] of shardOf) {
        if (shard === file && !st.tensors.has(key)) {
          throw new ModelLoadError(`${desc}: ${INDEX} says tensor "${key}" is in ${file}, but ${file} does not contain it`);
        }
      }
    }
    report({ phase: 'validate', message: `checking and converting the tensors of ${file}${counter}`, file, fileIndex: i + 1, fileCount: files.length });
    for (const [key, info] of st.tensors) {
      const name = canonicalTensorName(config, key);
      if (name === null) {
        ignored.push(key);
        continue;
      }
      const prev = foundIn.get(name);
      if (prev !== undefined) {
        throw new ModelLoadError(`${desc}: tensor "${name}" is stored twice: as ${prev} and as ${file}: "${key}"`);
      }
      foundIn.set(name, `${file}: "${key}"`);
      const shape = expected.get(name);
      if (!shape) throw new ModelLoadError(`${desc}: ${file}: tensor "${key}"${key !== name ? ` (${name})` : ''} ${notImplied(config, name)}`);
      if (info.shape.length !== shape.length || info.shape.some((d, j) => d !== shape[j])) {
        throw new ModelLoadError(
          `${desc}: ${file}: tensor "${key}"${key !== name ? ` (${name})` : ''} has shape ${shapeText(info.shape)}, but config.json ` +
            `implies ${shapeText(shape)} for model_type ${config.modelType}`,
        );
      }
      weights.set(name, { shape: shape.slice(), data: tensorToFloat32(st, key) });
    }
  }

  if (!expected) throw new Error('internal: no checkpoint file was read');
  const missing = [...expected.keys()].filter((n) => !weights.has(n));
  if (missing.length > 0) {
    const shown = missing.slice(0, 8).map((n) => `"${n}"`).join(', ');
    throw new ModelLoadError(
      `${desc}: the checkpoint lacks ${missing.length} tensor(s) that model_type ${config.modelType} with this config.json needs: ` +
        `${shown}${missing.length > 8 ? ', …' : ''} (searched ${files.join(', ')})`,
    );
  }

  // Re-order by the expected list so iteration order does not depend on the checkpoint's layout.
  const ordered: HostWeights = new Map();
  for (const name of expected.keys()) ordered.set(name, weights.get(name)!);
  report({ phase: 'done', message: `loaded ${ordered.size} tensors from ${files.join(', ')}` });
  return {
    config,
    rawConfig,
    weights: ordered,
    tokenizerJson,
    tokenizerConfig: (tokCfg as Record<string, unknown> | undefined) ?? {},
    generationConfig: (genCfg as Record<string, unknown> | undefined) ?? null,
    source: desc,
    checkpointFiles: files,
    ignoredTensors: ignored,
  };
}
