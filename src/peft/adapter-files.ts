/**
 * A LoRA adapter folder as PEFT writes and reads it (`peft_model.py` save_pretrained / from_pretrained,
 * `utils/save_and_load.py`, `tuners/tuners_utils.py` state-dict hooks; PEFT 0.21.0):
 *
 * - `adapter_config.json`: json.dumps(asdict(config), indent=2, sort_keys=True), inference_mode true, target_modules
 *   as inject_adapter left it (see effectiveTargetModules).
 * - `adapter_model.safetensors`: F32 tensors, metadata {"format": "pt"}, keys without the adapter name:
 *   `base_model.model.<module>.lora_A.weight` [r, in] and `base_model.model.<module>.lora_B.weight` [out, r]
 *   (nn.Linear layout, also for GPT-2's Conv1D); with use_dora also `base_model.model.<module>.lora_magnitude_vector`
 *   [out] (DoRA's magnitude, no ".weight" suffix). Biases: bias="lora_only" saves each adapted layer's
 *   `<module>.base_layer.bias`; bias="all" saves every parameter named "*.bias" — `<module>.base_layer.bias` for
 *   adapted layers, `<module>.bias` for the others (GPT-2's LayerNorms included).
 * - `README.md`: PEFT's model card (model-card.ts).
 *
 * PEFT loads with load_state_dict(strict=False) and only warns about missing keys, so a misnamed adapter loads as a
 * silent no-op. Export therefore checks every key, shape and value before writing, and import refuses anything PEFT
 * would not load into the same modules.
 */
import type { ModelConfig } from '../model/config';
import { expectedTensors, linearModules } from '../model/weight-names';
import type { ModelSource } from '../model-io/model-source';
import { firstNonFiniteIndex, nonFiniteValueText, parseSafetensors, tensorToFloat32, writeSafetensors, type TensorToWrite } from '../model-io/safetensors';
import { loraConfigToJson, parseLoraConfigJson, validateLoraConfig, type LoraBias, type LoraConfig } from './lora-config';
import type { LoraPair } from './lora-init';
import { describeLinearModules, effectiveTargetModules, resolveLoraTargets, type ResolvedTarget } from './lora-targets';
import { peftModelCard } from './model-card';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** PEFT's pickle fallback; never written, refused on import. */
export const ADAPTER_PICKLE_FILE = 'adapter_model.bin';
export const MODEL_CARD_FILE = 'README.md';
/** AdapterHub's safetensors weights (SAFE_WEIGHTS_NAME), next to its adapter_config.json: bottleneck adapters (bottleneck-files.ts). */
export const ADAPTERHUB_WEIGHTS_FILE = 'adapter.safetensors';

/** The prefix PEFT's state-dict keys carry for a PeftModel wrapping a transformers model. */
export const PEFT_KEY_PREFIX = 'base_model.model.';

export class AdapterFilesError extends Error {
  override name = 'AdapterFilesError';
}

function fail(msg: string): never {
  throw new AdapterFilesError(msg);
}

/** `base_model.model.<module>.lora_A.weight` / `.lora_B.weight`. */
export function loraTensorKey(modulePath: string, which: 'A' | 'B'): string {
  return `${PEFT_KEY_PREFIX}${modulePath}.lora_${which}.weight`;
}

/** `base_model.model.<module>.lora_magnitude_vector`: DoRA's magnitude [out] (PEFT saves it without ".weight"). */
export function magnitudeTensorKey(modulePath: string): string {
  return `${PEFT_KEY_PREFIX}${modulePath}.lora_magnitude_vector`;
}

/** The key PEFT saves a bias under: `<module>.base_layer.bias` for an adapted layer, `<module>.bias` otherwise. */
export function biasTensorKey(modulePath: string, adapted: boolean): string {
  return `${PEFT_KEY_PREFIX}${modulePath}${adapted ? '.base_layer' : ''}.bias`;
}

/** Every bias parameter of the base model: module path → length. */
function modelBiases(model: ModelConfig): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of expectedTensors(model)) if (t.name.endsWith('.bias')) out.set(t.name.slice(0, -'.bias'.length), t.shape[0]);
  return out;
}

/** The biases PEFT saves for a bias mode: module path → { key, length }. */
export function expectedBiasTensors(
  model: ModelConfig,
  targets: readonly ResolvedTarget[],
  bias: LoraBias,
): Map<string, { key: string; length: number }> {
  const out = new Map<string, { key: string; length: number }>();
  if (bias === 'none') return out;
  const adapted = new Set(targets.map((t) => t.path));
  if (bias === 'lora_only') {
    for (const t of targets) if (t.hasBias) out.set(t.path, { key: biasTensorKey(t.path, true), length: t.outFeatures });
    return out;
  }
  for (const [path, length] of modelBiases(model)) out.set(path, { key: biasTensorKey(path, adapted.has(path)), length });
  return out;
}

/**
 * Refuses data that is not a Float32Array of [shape]'s size, or holds a non-finite value; `what` names the tensor.
 * For export: on import, tensorToFloat32 already refuses non-finite values while converting.
 */
export function checkTensorValues(data: Float32Array, expectedLength: number, what: string, shape: number[]): void {
  if (!(data instanceof Float32Array)) fail(`${what}: expected a Float32Array, got ${Object.prototype.toString.call(data)}`);
  if (data.length !== expectedLength) {
    fail(`${what}: has ${data.length} values, expected [${shape.join(', ')}] = ${expectedLength}`);
  }
  const bad = firstNonFiniteIndex(data);
  if (bad >= 0) fail(`${what}: ${nonFiniteValueText(bad, data[bad])}; an adapter must hold finite numbers (did training diverge?)`);
}

/**
 * adapter_model.safetensors as PEFT saves it (metadata {"format": "pt"}), read back once: every key and shape must be
 * what PEFT will look for.
 */
export function writeAdapterWeights(tensors: TensorToWrite[], where: string): Uint8Array {
  const safetensors = writeSafetensors(tensors, { format: 'pt' });
  const check = parseSafetensors(safetensors, ADAPTER_WEIGHTS_FILE);
  if (check.tensors.size !== tensors.length) fail(`${where}: wrote ${check.tensors.size} tensors, expected ${tensors.length}`);
  for (const t of tensors) {
    const got = check.tensors.get(t.name);
    if (!got || got.shape.join(',') !== t.shape.join(',')) fail(`${where}: ${t.name} did not round-trip through safetensors`);
  }
  return safetensors;
}

function samePaths(a: readonly { path: string }[], b: readonly { path: string }[]): boolean {
  return a.length === b.length && a.every((t, i) => t.path === b[i].path);
}

export interface ExportLoraAdapterArgs {
  config: LoraConfig;
  /** lora_A [r, in] and lora_B [out, r] per module path, for exactly the targets. */
  weights: Map<string, LoraPair>;
  /** For bias "lora_only" / "all": the trained biases by module path (e.g. "transformer.h.0.attn.c_attn"). */
  biases?: Map<string, Float32Array>;
  /** With use_dora: lora_magnitude_vector [out] per module path, for exactly the targets. */
  magnitudes?: Map<string, Float32Array>;
  model: ModelConfig;
  targets: ResolvedTarget[];
}

/**
 * The config as PEFT's save_pretrained writes it after training: inference_mode true, and target_modules as
 * inject_adapter left it ("all-linear" expanded to the module names). Export and the GPU recipe's config read this.
 */
export function savedLoraConfig(config: LoraConfig, model: ModelConfig): LoraConfig {
  return { ...config, inference_mode: true, target_modules: effectiveTargetModules(config, model) };
}

/**
 * The files of a PEFT adapter folder: adapter_config.json, adapter_model.safetensors and README.md, by file name.
 * Throws an AdapterFilesError (or LoraConfigError) before producing anything if a target, key, shape or value does not
 * match what the config and the base model imply.
 */
export function exportLoraAdapter(args: ExportLoraAdapterArgs): Map<string, Uint8Array> {
  const { model, weights } = args;
  const config = validateLoraConfig(args.config, model);
  const where = 'exportLoraAdapter';

  // The targets given must be exactly what the config resolves to on this model.
  const expected = resolveLoraTargets(config, model);
  const given = new Map(args.targets.map((t) => [t.path, t]));
  if (given.size !== args.targets.length) fail(`${where}: targets list a module twice`);
  for (const e of expected) {
    const g = given.get(e.path);
    if (!g) fail(`${where}: the config targets "${e.path}", but targets do not include it; resolve the targets from this config`);
    for (const k of ['r', 'alpha', 'inFeatures', 'outFeatures'] as const) {
      if (g[k] !== e[k]) fail(`${where}: target "${e.path}" has ${k} ${g[k]}, but the config and model give ${e[k]}`);
    }
  }
  const expectedPaths = new Set(expected.map((e) => e.path));
  for (const t of args.targets) {
    if (!expectedPaths.has(t.path)) fail(`${where}: target "${t.path}" is not targeted by the config (target_modules ${JSON.stringify(config.target_modules)})`);
  }

  const tensors: TensorToWrite[] = [];
  for (const t of expected) {
    const w = weights.get(t.path);
    if (!w) fail(`${where}: no LoRA weights for the target "${t.path}"`);
    checkTensorValues(w.a, t.r * t.inFeatures, `${where}: ${loraTensorKey(t.path, 'A')}`, [t.r, t.inFeatures]);
    checkTensorValues(w.b, t.outFeatures * t.r, `${where}: ${loraTensorKey(t.path, 'B')}`, [t.outFeatures, t.r]);
    tensors.push({ name: loraTensorKey(t.path, 'A'), dtype: 'F32', shape: [t.r, t.inFeatures], data: w.a });
    tensors.push({ name: loraTensorKey(t.path, 'B'), dtype: 'F32', shape: [t.outFeatures, t.r], data: w.b });
    if (config.use_dora) {
      const m = args.magnitudes?.get(t.path);
      if (!m) fail(`${where}: use_dora is true but no lora_magnitude_vector is given for the target "${t.path}"`);
      checkTensorValues(m, t.outFeatures, `${where}: ${magnitudeTensorKey(t.path)}`, [t.outFeatures]);
      tensors.push({ name: magnitudeTensorKey(t.path), dtype: 'F32', shape: [t.outFeatures], data: m });
    }
  }
  for (const path of args.magnitudes?.keys() ?? []) {
    if (!config.use_dora) fail(`${where}: a DoRA magnitude is given for "${path}" but use_dora is false`);
    if (!expectedPaths.has(path)) fail(`${where}: a DoRA magnitude is given for "${path}", which the config does not target`);
  }
  for (const path of weights.keys()) {
    if (!expectedPaths.has(path)) fail(`${where}: weights are given for "${path}", which the config does not target`);
  }

  const wantBiases = expectedBiasTensors(model, expected, config.bias);
  const biases = args.biases ?? new Map<string, Float32Array>();
  if (config.bias === 'none' && biases.size > 0) {
    fail(`${where}: biases are given (${[...biases.keys()].slice(0, 3).join(', ')}…) but the config's bias is "none"; PEFT saves no biases then`);
  }
  for (const [path, { key, length }] of wantBiases) {
    const b = biases.get(path);
    if (!b) fail(`${where}: bias "${config.bias}" saves ${key}, but no bias is given for "${path}"`);
    checkTensorValues(b, length, `${where}: ${key}`, [length]);
    tensors.push({ name: key, dtype: 'F32', shape: [length], data: b });
  }
  for (const path of biases.keys()) {
    if (!wantBiases.has(path)) {
      fail(`${where}: a bias is given for "${path}", which bias "${config.bias}" does not save (it is not ${config.bias === 'all' ? 'a bias of this model' : 'an adapted layer with a bias'})`);
    }
  }

  const safetensors = writeAdapterWeights(tensors, where);

  // The config as PEFT saves it after inject_adapter, which must still select the same modules when PEFT loads it.
  const saved = savedLoraConfig(config, model);
  if (!samePaths(resolveLoraTargets(saved, model), expected)) {
    fail(`${where}: target_modules ${JSON.stringify(saved.target_modules)} as saved would select other modules than ${JSON.stringify(config.target_modules)}; list the modules explicitly`);
  }
  const enc = new TextEncoder();
  const files = new Map<string, Uint8Array>();
  files.set(ADAPTER_CONFIG_FILE, enc.encode(loraConfigToJson(saved)));
  files.set(ADAPTER_WEIGHTS_FILE, safetensors);
  files.set(MODEL_CARD_FILE, enc.encode(peftModelCard({ baseModel: config.base_model_name_or_path })));
  return files;
}

export interface ImportedLoraAdapter {
  config: LoraConfig;
  /** lora_A [r, in] and lora_B [out, r] per targeted module path, as f32. */
  weights: Map<string, LoraPair>;
  /** Biases the file holds (bias "lora_only" / "all"), by module path; PEFT loads them into the base layers. */
  biases: Map<string, Float32Array>;
  /** With use_dora: lora_magnitude_vector [out] per targeted module path. */
  magnitudes: Map<string, Float32Array>;
  targets: ResolvedTarget[];
  /** Things PEFT would also only warn about (ignored empty config fields, missing biases). */
  warnings: string[];
}

const LORA_KEY = /^(.*)\.lora_([AB])(?:\.([^.]+))?\.weight$/;

/**
 * adapter_config.json as text and adapter_model.safetensors as bytes from an adapter folder's files. Refuses a
 * missing file, a pickle-only folder and a config that is not UTF-8.
 */
export function adapterFileContents(files: Map<string, Uint8Array>): { configText: string; weightBytes: Uint8Array } {
  const configBytes = files.get(ADAPTER_CONFIG_FILE);
  if (!configBytes) fail(`${ADAPTER_CONFIG_FILE} is missing; a PEFT adapter folder holds ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE}`);
  const weightBytes = files.get(ADAPTER_WEIGHTS_FILE);
  if (!weightBytes) {
    if (files.has(ADAPTER_PICKLE_FILE)) {
      fail(`${ADAPTER_PICKLE_FILE} is a pickle, which is never read here; convert it to ${ADAPTER_WEIGHTS_FILE} (save it again with PEFT's safe_serialization=True)`);
    }
    fail(`${ADAPTER_WEIGHTS_FILE} is missing; a PEFT adapter folder holds ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(configBytes);
  } catch {
    fail(`${ADAPTER_CONFIG_FILE}: not valid UTF-8`);
  }
  return { configText: text, weightBytes };
}

/**
 * Reads an adapter folder's files (from readAdapterFiles or exportLoraAdapter) for this base model. Every error
 * names the file and key: a module this base model does not have, a module the config does not target, a rank that
 * differs from the config (r / rank_pattern), in/out features that differ from the base model (an adapter for
 * another model), a missing lora_A or lora_B (or, with use_dora, lora_magnitude_vector), a non-LoRA adapter (peft_type). Keys that still hold the adapter
 * name (".lora_A.default.weight") are accepted with the name stripped. F16 and BF16 tensors are converted to f32; a
 * NaN or ±Infinity in any tensor is refused (tensorToFloat32).
 */
export function importLoraAdapter(files: Map<string, Uint8Array>, model: ModelConfig): ImportedLoraAdapter {
  const { configText: text, weightBytes } = adapterFileContents(files);
  const { config, warnings } = parseLoraConfigJson(text, model, ADAPTER_CONFIG_FILE);
  const targets = resolveLoraTargets(config, model);
  const byPath = new Map(targets.map((t) => [t.path, t]));
  const linear = new Set(linearModules(model).map((m) => m.path));
  const biasLengths = modelBiases(model);

  const file = ADAPTER_WEIGHTS_FILE;
  const st = parseSafetensors(weightBytes, file);
  const found = new Map<string, { A?: Float32Array; B?: Float32Array; keyA?: string; keyB?: string }>();
  const biases = new Map<string, Float32Array>();
  const magnitudes = new Map<string, Float32Array>();
  for (const [key, info] of st.tensors) {
    const where = `${file}: tensor "${key}"`;
    if (!key.startsWith(PEFT_KEY_PREFIX)) {
      fail(`${where}: expected a key starting with "${PEFT_KEY_PREFIX}" (PEFT's prefix for a causal LM); PEFT would not load it into any module`);
    }
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') fail(`${where}: dtype ${info.dtype} is not supported; expected F32, F16 or BF16`);
    const rest = key.slice(PEFT_KEY_PREFIX.length);
    const m = LORA_KEY.exec(rest);
    if (m) {
      const [, path, which] = m as unknown as [string, string, 'A' | 'B'];
      if (!linear.has(path)) {
        fail(`${where}: "${path}" is not a module of this ${model.modelType} base model (${describeLinearModules(model)}); is the adapter for another model?`);
      }
      const t = byPath.get(path);
      if (!t) {
        fail(`${where}: "${path}" is not targeted by ${ADAPTER_CONFIG_FILE} (target_modules ${JSON.stringify(config.target_modules)}); PEFT would not load this tensor`);
      }
      const entry = found.get(path) ?? {};
      const prev = which === 'A' ? entry.keyA : entry.keyB;
      if (prev) fail(`${where}: lora_${which} of "${path}" is stored twice (also as "${prev}")`);
      const shape = info.shape;
      const [rows, cols] = which === 'A' ? [t.r, t.inFeatures] : [t.outFeatures, t.r];
      if (shape.length !== 2) fail(`${where}: has shape [${shape.join(', ')}], expected [${rows}, ${cols}]`);
      const rank = which === 'A' ? shape[0] : shape[1];
      const features = which === 'A' ? shape[1] : shape[0];
      const featureName = which === 'A' ? 'in_features' : 'out_features';
      const modelFeatures = which === 'A' ? t.inFeatures : t.outFeatures;
      if (features !== modelFeatures) {
        fail(
          `${where}: has shape [${shape.join(', ')}], but "${path}" of this base model has ${featureName} ${modelFeatures} (expected [${rows}, ${cols}]); ` +
            `is the adapter for another base model?`,
        );
      }
      if (rank !== t.r) {
        const source = Object.keys(config.rank_pattern).length > 0 ? `r = ${config.r} and rank_pattern ${JSON.stringify(config.rank_pattern)}` : `r = ${config.r}`;
        fail(`${where}: has rank ${rank} (shape [${shape.join(', ')}]), but ${ADAPTER_CONFIG_FILE} gives "${path}" rank ${t.r} (${source}); expected [${rows}, ${cols}]`);
      }
      const data = tensorToFloat32(st, key);
      if (which === 'A') Object.assign(entry, { A: data, keyA: key });
      else Object.assign(entry, { B: data, keyB: key });
      found.set(path, entry);
      continue;
    }
    if (rest.endsWith('.bias')) {
      const adapted = rest.endsWith('.base_layer.bias');
      const path = rest.slice(0, -(adapted ? '.base_layer.bias' : '.bias').length);
      const length = biasLengths.get(path);
      if (length === undefined) fail(`${where}: "${path}" is not a module with a bias in this ${model.modelType} base model`);
      if (adapted !== byPath.has(path)) {
        fail(
          `${where}: "${path}" is ${adapted ? 'not ' : ''}adapted by ${ADAPTER_CONFIG_FILE}, so PEFT names its bias ` +
            `"${biasTensorKey(path, !adapted)}"; under this name PEFT would not load it`,
        );
      }
      if (info.shape.length !== 1 || info.shape[0] !== length) fail(`${where}: has shape [${info.shape.join(', ')}], expected [${length}]`);
      if (biases.has(path)) fail(`${where}: the bias of "${path}" is stored twice`);
      biases.set(path, tensorToFloat32(st, key));
      continue;
    }
    const mag = /^(.*)\.lora_magnitude_vector$/.exec(rest);
    if (mag) {
      const path = mag[1];
      if (!config.use_dora) fail(`${where}: a DoRA magnitude vector, but ${ADAPTER_CONFIG_FILE} has use_dora false; PEFT would not load it`);
      const t = byPath.get(path);
      if (!t) fail(`${where}: "${path}" is not a module targeted by ${ADAPTER_CONFIG_FILE} (target_modules ${JSON.stringify(config.target_modules)})`);
      if (info.shape.length !== 1 || info.shape[0] !== t.outFeatures) fail(`${where}: has shape [${info.shape.join(', ')}], expected [${t.outFeatures}] (out_features of "${path}")`);
      if (magnitudes.has(path)) fail(`${where}: the DoRA magnitude of "${path}" is stored twice`);
      magnitudes.set(path, tensorToFloat32(st, key));
      continue;
    }
    if (/\.lora_magnitude_vector\b/.test(rest)) fail(`${where}: expected a DoRA magnitude named <module>.lora_magnitude_vector (PEFT saves it without ".weight")`);
    if (/\.lora_embedding_[AB]\b/.test(rest)) fail(`${where}: LoRA on an embedding is not supported yet`);
    fail(`${where}: not a LoRA tensor (expected <module>.lora_A.weight, <module>.lora_B.weight or a bias)`);
  }

  const weights = new Map<string, LoraPair>();
  for (const t of targets) {
    const e = found.get(t.path);
    if (!e?.A || !e?.B) {
      const missing = [!e?.A ? loraTensorKey(t.path, 'A') : null, !e?.B ? loraTensorKey(t.path, 'B') : null].filter(Boolean).join(' and ');
      fail(`${file}: ${missing} missing; ${ADAPTER_CONFIG_FILE} targets "${t.path}" (PEFT would leave it at its initial value)`);
    }
    weights.set(t.path, { a: e.A, b: e.B });
    if (config.use_dora && !magnitudes.has(t.path)) {
      fail(`${file}: ${magnitudeTensorKey(t.path)} missing; ${ADAPTER_CONFIG_FILE} has use_dora true and targets "${t.path}"`);
    }
  }

  const wantBiases = expectedBiasTensors(model, targets, config.bias);
  if (config.bias === 'none' && biases.size > 0) {
    warnings.push(`${file}: holds ${biases.size} biases although bias is "none"; PEFT loads them into the base model, and so are they returned`);
  }
  const missingBiases = [...wantBiases.keys()].filter((p) => !biases.has(p));
  if (missingBiases.length > 0) {
    warnings.push(
      `${file}: bias is "${config.bias}" but ${missingBiases.length} of ${wantBiases.size} biases are not in the file (e.g. "${missingBiases[0]}"); ` +
        `PEFT keeps the base model's values for those (PEFT before 0.21 did not save bias "lora_only")`,
    );
  }
  return { config, weights, biases, magnitudes, targets, warnings };
}

/**
 * The files importLoraAdapter needs, from a folder, browser files or a Hub repo: adapter_config.json and
 * adapter_model.safetensors. A folder that only has adapter_model.bin is refused: pickles are never read.
 */
export async function readAdapterFiles(source: ModelSource): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  if (!(await source.exists(ADAPTER_CONFIG_FILE))) {
    fail(`${source.description}: ${ADAPTER_CONFIG_FILE} not found; is this a PEFT adapter folder?`);
  }
  if (!(await source.exists(ADAPTER_WEIGHTS_FILE)) && (await source.exists(ADAPTERHUB_WEIGHTS_FILE))) {
    // An AdapterHub folder (save_adapter(..., use_safetensors=True)): bottleneck adapters.
    out.set(ADAPTER_CONFIG_FILE, await source.read(ADAPTER_CONFIG_FILE));
    out.set(ADAPTERHUB_WEIGHTS_FILE, await source.read(ADAPTERHUB_WEIGHTS_FILE));
    return out;
  }
  if (!(await source.exists(ADAPTER_WEIGHTS_FILE))) {
    if (await source.exists(ADAPTER_PICKLE_FILE)) {
      fail(`${source.description}: only ${ADAPTER_PICKLE_FILE} (a pickle) is there, which is never read here; save the adapter again with PEFT's safe_serialization=True to get ${ADAPTER_WEIGHTS_FILE}`);
    }
    fail(`${source.description}: ${ADAPTER_WEIGHTS_FILE} not found`);
  }
  out.set(ADAPTER_CONFIG_FILE, await source.read(ADAPTER_CONFIG_FILE));
  out.set(ADAPTER_WEIGHTS_FILE, await source.read(ADAPTER_WEIGHTS_FILE));
  return out;
}
