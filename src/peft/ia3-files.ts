/**
 * An IA³ adapter folder as PEFT writes and reads it (`utils/save_and_load.py`, get_peft_model_state_dict for IA3:
 * every parameter whose name holds "ia3_", with the adapter name removed):
 *
 * - `adapter_config.json`: the IA3Config (ia3-config.ts), inference_mode true;
 * - `adapter_model.safetensors`: F32 `base_model.model.<module path>.ia3_l` per targeted module, (out, 1), or
 *   (1, in) for a feed-forward module; metadata {"format": "pt"};
 * - `README.md`: PEFT's model card.
 *
 * PEFT's loader only warns about missing keys, so export checks every key, shape and value before writing, and
 * import refuses a missing, extra or misshapen tensor.
 */
import type { ModelConfig } from '../model/config';
import { parseSafetensors, tensorToFloat32 } from '../model-io/safetensors';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  AdapterFilesError,
  adapterFileContents,
  checkTensorValues,
  MODEL_CARD_FILE,
  PEFT_KEY_PREFIX,
  writeAdapterWeights,
} from './adapter-files';
import { ia3ConfigToJson, ia3VectorShape, parseIA3ConfigJson, resolveIA3Targets, validateIA3Config, type IA3Config, type IA3Target } from './ia3-config';
import { peftModelCard } from './model-card';

function fail(msg: string): never {
  throw new AdapterFilesError(msg);
}

/** The safetensors key of a module's vector: "base_model.model.<module path>.ia3_l". */
export function ia3TensorKey(modulePath: string): string {
  return `${PEFT_KEY_PREFIX}${modulePath}.ia3_l`;
}

const IA3_KEY = /^base_model\.model\.(.*)\.ia3_l(?:\.([^.]+))?$/;

export interface ExportIa3AdapterArgs {
  config: IA3Config;
  /** ia3_l per module path, for exactly the config's targets. */
  vectors: Map<string, Float32Array>;
  model: ModelConfig;
}

/** adapter_config.json as PEFT's save_pretrained writes it after training (inference_mode true). */
export function ia3AdapterConfigJson(config: IA3Config, model: ModelConfig): string {
  return ia3ConfigToJson({ ...config, inference_mode: true }, model);
}

/** The files of a PEFT IA³ adapter folder, by file name; throws before producing anything when a key, shape or value is off. */
export function exportIa3Adapter(args: ExportIa3AdapterArgs): Map<string, Uint8Array> {
  const where = 'exportIa3Adapter';
  const config = validateIA3Config(args.config, args.model);
  const targets = resolveIA3Targets(config, args.model);
  for (const path of args.vectors.keys()) {
    if (!targets.some((t) => t.path === path)) fail(`${where}: a vector for "${path}", which the config does not target`);
  }
  const tensors = targets.map((t) => {
    const l = args.vectors.get(t.path);
    if (!l) fail(`${where}: no ia3_l for the targeted module "${t.path}"`);
    const shape = ia3VectorShape(t);
    checkTensorValues(l, shape[0] * shape[1], `${where}: ${ia3TensorKey(t.path)}`, shape);
    return { name: ia3TensorKey(t.path), dtype: 'F32' as const, shape, data: l };
  });
  const safetensors = writeAdapterWeights(tensors, where);
  const enc = new TextEncoder();
  const files = new Map<string, Uint8Array>();
  files.set(ADAPTER_CONFIG_FILE, enc.encode(ia3AdapterConfigJson(config, args.model)));
  files.set(ADAPTER_WEIGHTS_FILE, safetensors);
  files.set(MODEL_CARD_FILE, enc.encode(peftModelCard({ baseModel: config.base_model_name_or_path, peftType: 'IA3', model: args.model })));
  return files;
}

export interface ImportedIa3Adapter {
  config: IA3Config;
  targets: IA3Target[];
  /** ia3_l per module path (f32). */
  vectors: Map<string, Float32Array>;
  warnings: string[];
}

/**
 * Reads an IA³ adapter folder's files for this base model. Every error names the file and the key: a tensor that is
 * not an ia3_l of a targeted module, a missing one, a shape other than (out, 1) / (1, in), a non-finite value.
 * Keys that still hold the adapter name (".ia3_l.default") are accepted with the name stripped.
 */
export function importIa3Adapter(files: Map<string, Uint8Array>, model: ModelConfig): ImportedIa3Adapter {
  const { configText, weightBytes } = adapterFileContents(files);
  const { config, warnings } = parseIA3ConfigJson(configText, model, ADAPTER_CONFIG_FILE);
  const targets = resolveIA3Targets(config, model);
  const byPath = new Map(targets.map((t) => [t.path, t]));
  const file = ADAPTER_WEIGHTS_FILE;
  const st = parseSafetensors(weightBytes, file);
  const vectors = new Map<string, Float32Array>();
  for (const [key, info] of st.tensors) {
    const m = IA3_KEY.exec(key);
    if (!m) fail(`${file}: tensor "${key}" is not part of an IA³ adapter (expected "${PEFT_KEY_PREFIX}<module>.ia3_l")`);
    const t = byPath.get(m[1]);
    if (!t) fail(`${file}: tensor "${key}": "${m[1]}" is not a module ${ADAPTER_CONFIG_FILE}'s target_modules select on this ${model.modelType} model`);
    if (vectors.has(t.path)) fail(`${file}: tensor "${key}": a second ia3_l for "${t.path}"`);
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') fail(`${file}: tensor "${key}": dtype ${info.dtype} is not supported; expected F32, F16 or BF16`);
    const shape = ia3VectorShape(t);
    if (info.shape.length !== 2 || info.shape[0] !== shape[0] || info.shape[1] !== shape[1]) {
      fail(
        `${file}: tensor "${key}" has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}] ` +
          `(${t.feedforward ? 'a feed-forward module scales its input: (1, in)' : 'a non-feed-forward module scales its output: (out, 1)'})`,
      );
    }
    // Refuses a NaN or ±Infinity while converting.
    vectors.set(t.path, tensorToFloat32(st, key));
  }
  for (const t of targets) if (!vectors.has(t.path)) fail(`${file}: "${ia3TensorKey(t.path)}" is missing; ${ADAPTER_CONFIG_FILE} targets "${t.path}"`);
  return { config, targets, vectors, warnings };
}
