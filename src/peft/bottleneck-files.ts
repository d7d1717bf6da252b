/**
 * A bottleneck adapter (Houlsby et al., 2019; Pfeiffer et al., 2020) in the folder format of AdapterHub's `adapters`
 * library (github.com/adapter-hub/adapters, 1.2.0): PEFT has no such method, so there is no peft_type; the folder is
 * what `model.save_adapter(dir, name, use_safetensors=True)` writes and `model.load_adapter(dir,
 * use_safetensors=True)` reads (`loading.py`, AdapterLoader; `utils.py` CONFIG_NAME / SAFE_WEIGHTS_NAME):
 *
 * - `adapter_config.json`: build_full_config — {config: BnConfig.to_dict(), hidden_size, model_class, model_name,
 *   model_type, name, version: "adapters.1.2.0"}, json.dump(indent=2, sort_keys=True);
 * - `adapter.safetensors`: per adapted sublayer of layer i, `<layer>.attention_adapters.adapters.<name>.…`
 *   (after the attention, houlsby only) and `<layer>.output_adapters.adapters.<name>.…` (after the MLP), each
 *   `adapter_down.0.weight` [b, d], `adapter_down.0.bias` [b], `adapter_up.weight` [d, b], `adapter_up.bias` [d]
 *   (nn.Sequential(Linear, Activation) and nn.Linear), with <layer> the model's own module path:
 *   `model.layers.<i>` (Llama, Qwen2), `transformer.h.<i>` (GPT-2). The library falls back to the pickle
 *   `pytorch_adapter.bin` without use_safetensors; that file is never written or read here.
 *
 * The library's `seq_bn` (pfeiffer) preset sets original_ln_before = true, which on these pre-norm models feeds the
 * adapter `h + out` rather than `out`. The studio's adapter is y = out + up(act(down(out))) at both places, which is
 * what the library computes with original_ln_before = false: the config is written as a full dict with that value
 * (and every other option at the value that keeps the plain adapter), so the library computes the same function.
 */
import { architectureOf } from '../model/architectures/index';
import type { ModelConfig, ModelType } from '../model/config';
import { parseSafetensors, tensorToFloat32, writeSafetensors, type TensorToWrite } from '../model-io/safetensors';
import { BOTTLENECK_CONFIGS, BOTTLENECK_NON_LINEARITIES, type BottleneckConfigName, type BottleneckNonLinearity } from '../options/bottleneck-fields';
import { AdapterFilesError, ADAPTER_CONFIG_FILE, ADAPTERHUB_WEIGHTS_FILE, checkTensorValues } from './adapter-files';
import { isPlainObject, parseConfigObject, showValue } from './config-values';
import { pyFloat, pythonJsonDumps, type PyJson } from './python-json';

export { ADAPTERHUB_WEIGHTS_FILE };
/** AdapterHub's WEIGHTS_NAME (a pickle): never written, refused on import. */
export const ADAPTERHUB_PICKLE_FILE = 'pytorch_adapter.bin';
/** The adapter name in the keys and the config (AdapterHub renames it on load_adapter(load_as=…)). */
export const BOTTLENECK_ADAPTER_NAME = 'bottleneck';
export const ADAPTERHUB_VERSION = 'adapters.1.2.0';

export class BottleneckConfigError extends Error {
  override name = 'BottleneckConfigError';
}

function fail(msg: string): never {
  throw new AdapterFilesError(msg);
}

export interface BottleneckConfig {
  config: BottleneckConfigName;
  reduction_factor: number;
  non_linearity: BottleneckNonLinearity;
  /** model_name in the saved config (the base model). */
  base_model_name_or_path: string | null;
}

export type BottleneckPlace = 'attention' | 'mlp';

/** One adapter: after which sublayer of which layer, and its checkpoint key prefix. */
export interface BottleneckTarget {
  layer: number;
  place: BottleneckPlace;
  /** e.g. "model.layers.0.output_adapters.adapters.bottleneck". */
  prefix: string;
}

/** hidden_size // reduction_factor, as the library computes the bottleneck size. */
export function bottleneckSize(config: Pick<BottleneckConfig, 'reduction_factor'>, model: ModelConfig): number {
  return Math.floor(model.hiddenSize / config.reduction_factor);
}

/** Checks the options, naming the field at fault: a bottleneck size of 0 or larger than the hidden size is refused. */
export function makeBottleneckConfig(options: Readonly<Record<string, unknown>>, model: ModelConfig, baseName: string | null): BottleneckConfig {
  const where = 'bottleneck adapter config';
  const config = options.config ?? 'pfeiffer';
  if (!(BOTTLENECK_CONFIGS as readonly unknown[]).includes(config)) {
    throw new BottleneckConfigError(`${where}: config = ${showValue(config)} is invalid; expected one of ${BOTTLENECK_CONFIGS.map((c) => `"${c}"`).join(', ')}`);
  }
  const act = options.non_linearity ?? 'relu';
  if (!(BOTTLENECK_NON_LINEARITIES as readonly unknown[]).includes(act)) {
    throw new BottleneckConfigError(
      `${where}: non_linearity = ${showValue(act)} is not supported; expected one of ${BOTTLENECK_NON_LINEARITIES.map((c) => `"${c}"`).join(', ')}`,
    );
  }
  const rf = options.reduction_factor ?? 16;
  if (typeof rf !== 'number' || !Number.isFinite(rf) || rf <= 0) {
    throw new BottleneckConfigError(`${where}: reduction_factor = ${showValue(rf)} is invalid; expected a number above 0`);
  }
  const size = Math.floor(model.hiddenSize / rf);
  if (size < 1) {
    throw new BottleneckConfigError(
      `${where}: reduction_factor = ${rf} gives a bottleneck size of ${size} (hidden_size ${model.hiddenSize} // ${rf}); it must be at least 1 — use a reduction_factor of at most ${model.hiddenSize}`,
    );
  }
  if (size > model.hiddenSize) {
    throw new BottleneckConfigError(
      `${where}: reduction_factor = ${rf} gives a bottleneck size of ${size}, larger than hidden_size ${model.hiddenSize}; use a reduction_factor of at least 1`,
    );
  }
  return { config: config as BottleneckConfigName, reduction_factor: rf, non_linearity: act as BottleneckNonLinearity, base_model_name_or_path: baseName };
}

/** The module path of layer i, as the architecture names its blocks ("model.layers.i", "transformer.h.i"). */
export function layerModulePath(model: ModelConfig, layer: number): string {
  return architectureOf(model).names.block(layer);
}

/** The adapters of a config on a model, in layer order (attention before MLP). */
export function bottleneckTargets(config: BottleneckConfig, model: ModelConfig): BottleneckTarget[] {
  const out: BottleneckTarget[] = [];
  for (let l = 0; l < model.numLayers; l++) {
    const places: BottleneckPlace[] = config.config === 'houlsby' ? ['attention', 'mlp'] : ['mlp'];
    for (const place of places) {
      out.push({ layer: l, place, prefix: `${layerModulePath(model, l)}.${place === 'attention' ? 'attention_adapters' : 'output_adapters'}.adapters.${BOTTLENECK_ADAPTER_NAME}` });
    }
  }
  return out;
}

/** The four tensors of one adapter: key → shape. */
export function bottleneckTensorShapes(t: BottleneckTarget, d: number, b: number): [string, number[]][] {
  return [
    [`${t.prefix}.adapter_down.0.weight`, [b, d]],
    [`${t.prefix}.adapter_down.0.bias`, [b]],
    [`${t.prefix}.adapter_up.weight`, [d, b]],
    [`${t.prefix}.adapter_up.bias`, [d]],
  ];
}

const MODEL_CLASS: Readonly<Record<ModelType, string>> = { gpt2: 'GPT2LMHeadModel', llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM' };

/** BnConfig.to_dict() (asdict) for the studio's adapter: the preset's placement, the plain adapter otherwise. */
function bnConfigDict(c: BottleneckConfig): Record<string, PyJson> {
  return {
    architecture: 'bottleneck',
    mh_adapter: c.config === 'houlsby',
    output_adapter: true,
    reduction_factor: Number.isInteger(c.reduction_factor) ? c.reduction_factor : pyFloat(c.reduction_factor),
    non_linearity: c.non_linearity,
    original_ln_before: false,
    original_ln_after: true,
    ln_before: false,
    ln_after: false,
    init_weights: 'mam_adapter',
    init_weights_seed: null,
    is_parallel: false,
    scaling: pyFloat(1),
    use_gating: false,
    residual_before_ln: true,
    adapter_residual_before_ln: false,
    inv_adapter: null,
    inv_adapter_reduction_factor: null,
    cross_adapter: false,
    leave_out: [],
    dropout: pyFloat(0),
    phm_layer: false,
    phm_dim: 4,
    factorized_phm_W: true,
    shared_W_phm: false,
    shared_phm_rule: true,
    factorized_phm_rule: false,
    phm_c_init: 'normal',
    phm_init_range: pyFloat(0.0001),
    learn_phm: true,
    hypercomplex_nonlinearity: 'glorot-uniform',
    phm_rank: 1,
    phm_bias: true,
    stochastic_depth: pyFloat(0),
  };
}

/** adapter_config.json as the library's save_adapter writes it. */
export function bottleneckConfigToJson(c: BottleneckConfig, model: ModelConfig): string {
  return pythonJsonDumps(
    {
      config: bnConfigDict(c),
      hidden_size: model.hiddenSize,
      model_class: MODEL_CLASS[model.modelType],
      model_name: c.base_model_name_or_path,
      model_type: model.modelType,
      name: BOTTLENECK_ADAPTER_NAME,
      version: ADAPTERHUB_VERSION,
    },
    { indent: 2, sortKeys: true },
  );
}

/** Whether a parsed adapter_config.json is AdapterHub's bottleneck adapter (no peft_type; config.architecture "bottleneck"). */
export function isAdapterHubBottleneck(json: unknown): boolean {
  if (!isPlainObject(json) || 'peft_type' in json) return false;
  const c = json.config;
  return isPlainObject(c) && (c.architecture === 'bottleneck' || (c.architecture == null && 'mh_adapter' in c && 'output_adapter' in c));
}

/** What must hold for the library's adapter to be the plain y = out + up(act(down(out))) this studio computes. */
const PLAIN: Readonly<Record<string, unknown>> = {
  original_ln_before: false, original_ln_after: true, ln_before: false, ln_after: false, is_parallel: false, use_gating: false,
  residual_before_ln: true, adapter_residual_before_ln: false, inv_adapter: null, cross_adapter: false, phm_layer: false,
};

/** Parses the library's adapter_config.json for this base model; refuses what the studio does not compute. */
export function parseBottleneckConfigJson(text: string, model: ModelConfig, file = ADAPTER_CONFIG_FILE): { config: BottleneckConfig; name: string } {
  const json = parseConfigObject(text, file, (m) => new AdapterFilesError(m));
  if (!isAdapterHubBottleneck(json)) fail(`${file}: not an AdapterHub bottleneck adapter config (expected "config": {"architecture": "bottleneck", …})`);
  const c = json.config as Record<string, unknown>;
  if (json.model_type !== undefined && json.model_type !== model.modelType) {
    fail(`${file}: model_type ${showValue(json.model_type)} is not the base model's "${model.modelType}"; is the adapter for another model?`);
  }
  if (json.hidden_size !== undefined && json.hidden_size !== model.hiddenSize) {
    fail(`${file}: hidden_size ${showValue(json.hidden_size)} is not the base model's ${model.hiddenSize}`);
  }
  for (const [k, want] of Object.entries(PLAIN)) {
    if (k in c && c[k] !== want && !(want === null && c[k] === undefined)) {
      fail(`${file}: config.${k} = ${showValue(c[k])} is not supported; PEFT Studio computes the plain adapter out + up(act(down(out))) (${k} = ${showValue(want)})`);
    }
  }
  if (typeof c.scaling === 'number' && c.scaling !== 1) fail(`${file}: config.scaling = ${showValue(c.scaling)} is not supported; expected 1.0`);
  if (Array.isArray(c.leave_out) && c.leave_out.length > 0) fail(`${file}: config.leave_out = ${showValue(c.leave_out)} is not supported; expected []`);
  let preset: BottleneckConfigName;
  if (c.mh_adapter === true && c.output_adapter === true) preset = 'houlsby';
  else if (c.mh_adapter === false && c.output_adapter === true) preset = 'pfeiffer';
  else fail(`${file}: config.mh_adapter = ${showValue(c.mh_adapter)}, output_adapter = ${showValue(c.output_adapter)} is not supported (houlsby: both true; pfeiffer: output only)`);
  const name = typeof json.name === 'string' && json.name.length > 0 ? json.name : BOTTLENECK_ADAPTER_NAME;
  const modelName = typeof json.model_name === 'string' ? json.model_name : null;
  try {
    // The library looks the activation up lower-cased (Activation_Function_Class: get_activation(hidden_act.lower())).
    const act = typeof c.non_linearity === 'string' ? c.non_linearity.toLowerCase() : c.non_linearity;
    return { config: makeBottleneckConfig({ config: preset, reduction_factor: c.reduction_factor, non_linearity: act }, model, modelName), name };
  } catch (e) {
    if (e instanceof BottleneckConfigError) fail(`${file}: ${e.message}`);
    throw e;
  }
}

/** The adapters' tensors by key (the library's names), each a Float32Array. */
export type BottleneckWeights = Map<string, Float32Array>;

/** adapter_config.json and adapter.safetensors; throws before producing anything when a key, shape or value is off. */
export function exportBottleneckAdapter(args: { config: BottleneckConfig; weights: BottleneckWeights; model: ModelConfig }): Map<string, Uint8Array> {
  const where = 'exportBottleneckAdapter';
  const { config, model } = args;
  const d = model.hiddenSize;
  const b = bottleneckSize(config, model);
  const tensors: TensorToWrite[] = [];
  for (const t of bottleneckTargets(config, model)) {
    for (const [key, shape] of bottleneckTensorShapes(t, d, b)) {
      const data = args.weights.get(key);
      if (!data) fail(`${where}: no values for "${key}"`);
      checkTensorValues(data, shape.reduce((x, y) => x * y, 1), `${where}: ${key}`, shape);
      tensors.push({ name: key, dtype: 'F32', shape, data });
    }
  }
  if (args.weights.size !== tensors.length) fail(`${where}: ${args.weights.size} tensors given, the config has ${tensors.length}`);
  const files = new Map<string, Uint8Array>();
  files.set(ADAPTER_CONFIG_FILE, new TextEncoder().encode(bottleneckConfigToJson(config, model)));
  files.set(ADAPTERHUB_WEIGHTS_FILE, writeSafetensors(tensors, { format: 'pt' }));
  return files;
}

/** Reads the folder's files for this base model: every tensor the config implies, with its shape, and nothing else. */
export function importBottleneckAdapter(files: ReadonlyMap<string, Uint8Array>, model: ModelConfig): { config: BottleneckConfig; weights: BottleneckWeights } {
  const configBytes = files.get(ADAPTER_CONFIG_FILE);
  if (!configBytes) fail(`${ADAPTER_CONFIG_FILE} is missing; an AdapterHub adapter folder holds it and ${ADAPTERHUB_WEIGHTS_FILE}`);
  const bytes = files.get(ADAPTERHUB_WEIGHTS_FILE);
  if (!bytes) {
    if (files.has(ADAPTERHUB_PICKLE_FILE)) fail(`${ADAPTERHUB_PICKLE_FILE} is a pickle, which is never read here; save the adapter again with save_adapter(..., use_safetensors=True)`);
    fail(`${ADAPTERHUB_WEIGHTS_FILE} is missing; an AdapterHub adapter folder saved with use_safetensors=True holds it`);
  }
  const { config, name } = parseBottleneckConfigJson(new TextDecoder().decode(configBytes), model);
  const file = ADAPTERHUB_WEIGHTS_FILE;
  const st = parseSafetensors(bytes, file);
  const d = model.hiddenSize;
  const b = bottleneckSize(config, model);
  const expected = new Map<string, number[]>();
  for (const t of bottleneckTargets(config, model)) for (const [key, shape] of bottleneckTensorShapes(t, d, b)) expected.set(key, shape);
  const rename = (key: string) => key.replace(`.adapters.${name}.`, `.adapters.${BOTTLENECK_ADAPTER_NAME}.`);
  const weights: BottleneckWeights = new Map();
  for (const [key, info] of st.tensors) {
    const k = rename(key);
    const shape = expected.get(k);
    if (!shape) fail(`${file}: tensor "${key}" is not part of this ${config.config} bottleneck adapter on a ${model.numLayers}-layer ${model.modelType} model`);
    if (info.shape.join(',') !== shape.join(',')) {
      fail(`${file}: tensor "${key}" has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}] (hidden_size ${d}, bottleneck size ${b} = ${d} // ${config.reduction_factor})`);
    }
    // Refuses a NaN or ±Infinity while converting.
    weights.set(k, tensorToFloat32(st, key));
  }
  for (const key of expected.keys()) if (!weights.has(key)) fail(`${file}: "${key}" is missing`);
  return { config, weights };
}
