/**
 * PEFT's LoraConfig (`tuners/lora/config.py`, with the base fields of `config.py`), field for field as
 * `dataclasses.asdict(LoraConfig(...))` emits them in PEFT 0.21.0 (`to_dict` drops `runtime_config`), its defaults,
 * and the checks PEFT's `__post_init__` makes, plus the refusals for what PEFT Studio does not support yet.
 *
 * Field names stay snake_case so that a config serializes to `adapter_config.json` without renaming.
 */
import { architectureForModelType } from '../model/architectures/index';
import { SUPPORTED_MODEL_TYPES, type ModelConfig, type ModelType } from '../model/config';
import { pythonFullmatch, pythonPatternKeyRegex, PythonRegexError } from './python-regex';
import { ConfigFieldChecker, forcedFanInFanOut, isPlainObject, isUnusedValue as isUnused, parseConfigObject, screenUnknownFields, showValue as show } from './config-values';
import { PEFT_VERSION } from './peft-version';
import { compareCodePoints, pythonJsonDumps, pyFloat, type PyJson } from './python-json';

export { PEFT_VERSION } from './peft-version';

export type LoraBias = 'none' | 'all' | 'lora_only';
export type InitLoraWeights = boolean | 'gaussian';

/**
 * A LoRA adapter's configuration, as PEFT saves it. Fields typed `null` or `false` are PEFT features PEFT Studio
 * does not support yet; they must keep their default.
 */
export interface LoraConfig {
  // PeftConfigMixin / PeftConfig
  task_type: 'CAUSAL_LM';
  peft_type: 'LORA';
  auto_mapping: null;
  peft_version: string;
  base_model_name_or_path: string | null;
  revision: string | null;
  inference_mode: boolean;
  // LoraConfig
  r: number;
  /** A list (a name matches an entry when equal to it or ending in "." + entry), a regex (re.fullmatch), or "all-linear". */
  target_modules: string[] | string;
  exclude_modules: string[] | string | null;
  lora_alpha: number;
  lora_dropout: number;
  /** true for GPT-2 (Conv1D weights are [in, out]); PEFT forces it per layer type. */
  fan_in_fan_out: boolean;
  bias: LoraBias;
  use_rslora: boolean;
  modules_to_save: null;
  init_lora_weights: InitLoraWeights;
  layers_to_transform: number | number[] | null;
  layers_pattern: string | string[] | null;
  /** Module-name regex → rank. */
  rank_pattern: Record<string, number>;
  /** Module-name regex → lora_alpha. */
  alpha_pattern: Record<string, number>;
  megatron_config: null;
  megatron_core: string | null;
  trainable_token_indices: null;
  /** Always {} (PEFT empties it unless init_lora_weights is "loftq"). */
  loftq_config: Record<string, never>;
  eva_config: null;
  corda_config: null;
  lora_ga_config: null;
  /** DoRA (weight-decomposed LoRA): a trainable magnitude per output feature (tuners/lora/dora.py). */
  use_dora: boolean;
  velora_config: null;
  alora_invocation_tokens: null;
  use_qalora: false;
  qalora_group_size: number;
  monteclora_config: null;
  layer_replication: null;
  lora_bias: false;
  target_parameters: null;
  use_bdlora: null;
  arrow_config: null;
  kasa_config: null;
  ensure_weight_tying: false;
}

/** Every key of `adapter_config.json` that PEFT 0.21.0 writes for LoRA, sorted. */
export const LORA_CONFIG_FIELDS = [
  'alora_invocation_tokens', 'alpha_pattern', 'arrow_config', 'auto_mapping', 'base_model_name_or_path', 'bias',
  'corda_config', 'ensure_weight_tying', 'eva_config', 'exclude_modules', 'fan_in_fan_out', 'inference_mode',
  'init_lora_weights', 'kasa_config', 'layer_replication', 'layers_pattern', 'layers_to_transform', 'loftq_config',
  'lora_alpha', 'lora_bias', 'lora_dropout', 'lora_ga_config', 'megatron_config', 'megatron_core', 'modules_to_save',
  'monteclora_config', 'peft_type', 'peft_version', 'qalora_group_size', 'r', 'rank_pattern', 'revision',
  'target_modules', 'target_parameters', 'task_type', 'trainable_token_indices', 'use_bdlora', 'use_dora',
  'use_qalora', 'use_rslora', 'velora_config',
] as const satisfies readonly (keyof LoraConfig)[];

/**
 * PEFT's default target modules per model type (`utils/constants.py`, TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING),
 * as each architecture's description lists them.
 */
export const DEFAULT_LORA_TARGET_MODULES: Readonly<Record<ModelType, readonly string[]>> = Object.fromEntries(
  SUPPORTED_MODEL_TYPES.map((t) => [t, architectureForModelType(t)?.defaultLoraTargets[t] ?? []]),
) as Record<ModelType, readonly string[]>;

/** PEFT's shorthand for every linear layer but the output layer (`utils/constants.py`, INCLUDE_LINEAR_LAYERS_SHORTHAND). */
export const ALL_LINEAR = 'all-linear';

/** Whether target_modules is the "all-linear" shorthand (PEFT compares it lower-cased). */
export function isAllLinear(targetModules: string[] | string): targetModules is string {
  return typeof targetModules === 'string' && targetModules.toLowerCase() === ALL_LINEAR;
}

export class LoraConfigError extends Error {
  override name = 'LoraConfigError';
}

/** Other init_lora_weights values PEFT knows, which need the base weights or data (not supported yet). */
const OTHER_PEFT_INITS = ['eva', 'olora', 'pissa', 'pissa_niter_[n]', 'corda', 'loftq', 'orthogonal', 'mica', 'lora_ga'];

/** The dataclass defaults (target_modules filled in per model type by makeLoraConfig); the option schema (src/options/lora-fields.ts) takes the LoRA defaults from here. */
export function peftDefaults(): Omit<LoraConfig, 'target_modules'> & { target_modules: string[] | string | null } {
  return {
    task_type: 'CAUSAL_LM',
    peft_type: 'LORA',
    auto_mapping: null,
    peft_version: PEFT_VERSION,
    base_model_name_or_path: null,
    revision: null,
    inference_mode: false,
    r: 8,
    target_modules: null,
    exclude_modules: null,
    lora_alpha: 8,
    lora_dropout: 0.0,
    fan_in_fan_out: false,
    bias: 'none',
    use_rslora: false,
    modules_to_save: null,
    init_lora_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    megatron_config: null,
    megatron_core: 'megatron.core',
    trainable_token_indices: null,
    loftq_config: {},
    eva_config: null,
    corda_config: null,
    lora_ga_config: null,
    use_dora: false,
    velora_config: null,
    alora_invocation_tokens: null,
    use_qalora: false,
    qalora_group_size: 16,
    monteclora_config: null,
    layer_replication: null,
    lora_bias: false,
    target_parameters: null,
    use_bdlora: null,
    arrow_config: null,
    kasa_config: null,
    ensure_weight_tying: false,
  };
}

/** Validation context: `where` prefixes every message ("LoRA config" or "adapter_config.json"). */
class Checker extends ConfigFieldChecker {
  constructor(
    where: string,
    readonly model: ModelConfig,
  ) {
    super(where, (message) => new LoraConfigError(message));
  }

  unsupported(field: string, value: unknown, what: string): never {
    throw new LoraConfigError(`${this.where}: ${field} = ${show(value)} is not supported yet (${what}); expected ${this.defaultText(field)}`);
  }

  private defaultText(field: string): string {
    const d = (peftDefaults() as Record<string, unknown>)[field];
    return show(d);
  }

  regex(field: string, pattern: string, kind: 'fullmatch' | 'patternKey'): void {
    try {
      if (kind === 'fullmatch') pythonFullmatch(pattern, `${this.where}: ${field}`);
      else pythonPatternKeyRegex(pattern, `${this.where}: ${field}`);
    } catch (e) {
      if (e instanceof PythonRegexError) throw new LoraConfigError(e.message.startsWith(this.where) ? e.message : `${this.where}: ${field}: ${e.message}`);
      throw e;
    }
  }

  /** A list of module names, or a regex string (and, for target_modules, "all-linear"). */
  moduleSelector(field: string, v: unknown, allowAllLinear: boolean): string[] | string {
    if (typeof v === 'string') {
      if (v.length === 0) this.fail(field, v, 'a non-empty regex, a list of module names' + (allowAllLinear ? ', or "all-linear"' : ''));
      if (!(allowAllLinear && isAllLinear(v))) this.regex(field, v, 'fullmatch');
      return v;
    }
    const expected = `a non-empty list of module names (e.g. ["q_proj", "v_proj"]), a regex string${allowAllLinear ? ', or "all-linear"' : ''}`;
    if (!Array.isArray(v) || v.length === 0) this.fail(field, v, expected);
    for (const x of v) {
      if (typeof x !== 'string' || x.length === 0) this.fail(field, v, `${expected}; found the entry ${show(x)}`);
    }
    return [...(v as string[])];
  }

  pattern(field: 'rank_pattern' | 'alpha_pattern', v: unknown): Record<string, number> {
    if (v === null || v === undefined) return {};
    if (!isPlainObject(v)) this.fail(field, v, 'an object mapping module-name regexes to numbers, e.g. {"q_proj": 16}');
    const out: Record<string, number> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k.length === 0) this.fail(field, v, 'no empty keys');
      if (field === 'rank_pattern') {
        if (typeof x !== 'number' || !Number.isSafeInteger(x) || x <= 0) this.fail(`${field}[${JSON.stringify(k)}]`, x, 'a positive integer rank');
      } else if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) {
        this.fail(`${field}[${JSON.stringify(k)}]`, x, 'a positive number');
      }
      this.regex(`${field} key ${JSON.stringify(k)}`, k, 'patternKey');
      out[k] = x as number;
    }
    return out;
  }

  layersToTransform(v: unknown): number | number[] | null {
    if (v === null) return null;
    const n = this.model.numLayers;
    const expected = `null, a layer index or a list of layer indices in 0..${n - 1} (the model has ${n} layers)`;
    const ok = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x < n;
    if (typeof v === 'number') {
      if (!ok(v)) this.fail('layers_to_transform', v, expected);
      return v;
    }
    if (!Array.isArray(v)) this.fail('layers_to_transform', v, expected);
    for (const x of v) if (!ok(x)) this.fail('layers_to_transform', v, `${expected}; found ${show(x)}`);
    return [...(v as number[])];
  }

  layersPattern(v: unknown): string | string[] | null {
    if (v === null) return null;
    const expected = 'null, or the name (or names) of the layer list, e.g. "layers" or "h"';
    if (typeof v === 'string') return v;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.fail('layers_pattern', v, expected);
    return [...(v as string[])];
  }

  initLoraWeights(v: unknown): InitLoraWeights {
    if (v === true || v === false) return v;
    if (typeof v === 'string') {
      // PEFT compares "gaussian" lower-cased (layer.py, reset_lora_parameters).
      if (v.toLowerCase() === 'gaussian') return 'gaussian';
      throw new LoraConfigError(
        `${this.where}: init_lora_weights = ${show(v)} is not supported yet; supported: true (kaiming-uniform A, zero B), false (random A and B), ` +
          `"gaussian" (normal A with std 1/r, zero B). PEFT's other inits (${OTHER_PEFT_INITS.join(', ')}) need the base weights or data`,
      );
    }
    this.fail('init_lora_weights', v, 'true, false or "gaussian"');
  }
}

const UNSUPPORTED_NULL_FIELDS: Record<string, string> = {
  modules_to_save: 'extra fully trained modules',
  megatron_config: 'Megatron parallel layers',
  trainable_token_indices: 'trainable tokens',
  eva_config: 'EVA initialization',
  corda_config: 'CorDA initialization',
  lora_ga_config: 'LoRA-GA initialization',
  velora_config: 'VeLoRA',
  alora_invocation_tokens: 'activated LoRA (aLoRA)',
  monteclora_config: 'MonteCLoRA',
  layer_replication: 'layer replication',
  target_parameters: 'targeting nn.Parameter',
  use_bdlora: 'block-diagonal LoRA',
  arrow_config: 'Arrow routing',
  kasa_config: 'KaSA',
};
const UNSUPPORTED_FALSE_FIELDS: Record<string, string> = {
  use_qalora: 'QA-LoRA',
  lora_bias: 'a bias on lora_B',
  ensure_weight_tying: 'tied LoRA adapters',
};

/**
 * Validates and normalizes a config object against the model. `mode` "make" is strict about unknown fields; "load"
 * (an adapter_config.json) ignores unknown fields that hold an empty value, as PEFT ignores unknown keys, but refuses
 * unknown fields with a value (a newer PEFT feature that could change what the adapter computes).
 */
function normalize(raw: Record<string, unknown>, model: ModelConfig, where: string, mode: 'make' | 'load', warnings: string[]): LoraConfig {
  const c = new Checker(where, model);
  screenUnknownFields({ raw, fields: LORA_CONFIG_FIELDS, className: 'LoraConfig', where, mode, warnings, error: (m) => new LoraConfigError(m) });
  const d = peftDefaults() as Record<string, unknown>;
  const get = (k: string): unknown => (raw[k] === undefined ? d[k] : raw[k]);

  const peftType = get('peft_type');
  if (peftType !== 'LORA') c.fail('peft_type', peftType, '"LORA" (only LoRA adapters are supported)');
  let taskType = get('task_type');
  if (mode === 'load' && taskType === null) taskType = 'CAUSAL_LM';
  if (taskType !== 'CAUSAL_LM') c.fail('task_type', taskType, '"CAUSAL_LM" (PEFT Studio adapts causal language models)');
  const autoMapping = get('auto_mapping');
  if (autoMapping !== null && !(mode === 'load' && isPlainObject(autoMapping))) c.fail('auto_mapping', autoMapping, 'null');

  for (const [k, what] of Object.entries(UNSUPPORTED_NULL_FIELDS)) {
    const v = get(k);
    if (!isUnused(v)) c.unsupported(k, v, what);
  }
  const useDora = c.bool('use_dora', get('use_dora'));
  // PEFT's LoraConfig refuses lora_bias with DoRA (before our own refusal of lora_bias, so the message says why).
  if (useDora && get('lora_bias') === true) {
    throw new LoraConfigError(`${where}: lora_bias = true cannot be used with use_dora = true (PEFT refuses this combination); set lora_bias to false or use_dora to false`);
  }
  for (const [k, what] of Object.entries(UNSUPPORTED_FALSE_FIELDS)) {
    const v = get(k);
    if (v !== false) {
      if (typeof v !== 'boolean') c.fail(k, v, 'false');
      c.unsupported(k, v, what);
    }
  }
  const loftq = get('loftq_config');
  if (loftq !== null && !isPlainObject(loftq)) c.fail('loftq_config', loftq, '{}');

  const peftVersion = get('peft_version');
  if (typeof peftVersion !== 'string' || peftVersion.length === 0) c.fail('peft_version', peftVersion, 'a version string such as "0.21.0"');
  const megatronCore = c.nullableString('megatron_core', get('megatron_core'));
  const qaloraGroupSize = c.positiveInt('qalora_group_size', get('qalora_group_size'));

  const r = c.positiveInt('r', get('r'));
  const alpha = get('lora_alpha');
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) c.fail('lora_alpha', alpha, 'a finite number');
  const dropout = get('lora_dropout');
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) c.fail('lora_dropout', dropout, 'a number in [0, 1)');
  const bias = get('bias');
  if (bias !== 'none' && bias !== 'all' && bias !== 'lora_only') c.fail('bias', bias, '"none", "all" or "lora_only"');
  const useRslora = c.bool('use_rslora', get('use_rslora'));
  const inferenceMode = c.bool('inference_mode', get('inference_mode'));
  const fanInFanOut = c.bool('fan_in_fan_out', get('fan_in_fan_out'));
  const init = c.initLoraWeights(get('init_lora_weights'));

  let targetModules = get('target_modules');
  if (targetModules === null) targetModules = [...DEFAULT_LORA_TARGET_MODULES[model.modelType]];
  const target = c.moduleSelector('target_modules', targetModules, true);
  const excludeRaw = get('exclude_modules');
  const exclude = excludeRaw === null ? null : c.moduleSelector('exclude_modules', excludeRaw, false);
  const layersToTransform = c.layersToTransform(get('layers_to_transform'));
  const layersPattern = c.layersPattern(get('layers_pattern'));
  // PEFT's LoraConfig.__post_init__ checks.
  if (typeof target === 'string' && layersToTransform !== null) {
    throw new LoraConfigError(`${where}: layers_to_transform = ${show(layersToTransform)} cannot be used when target_modules is a string (${show(target)}); give target_modules as a list`);
  }
  if (typeof target === 'string' && layersPattern !== null) {
    throw new LoraConfigError(`${where}: layers_pattern = ${show(layersPattern)} cannot be used when target_modules is a string (${show(target)}); give target_modules as a list`);
  }
  if (layersPattern !== null && layersPattern.length > 0 && layersToTransform === null) {
    throw new LoraConfigError(`${where}: layers_pattern = ${show(layersPattern)} is set but layers_to_transform is null; set both or neither`);
  }
  if (layersPattern !== null) {
    for (const p of typeof layersPattern === 'string' ? [layersPattern] : layersPattern) c.regex('layers_pattern', p, 'patternKey');
  }

  const baseName = c.nullableString('base_model_name_or_path', get('base_model_name_or_path'));
  const revision = c.nullableString('revision', get('revision'));

  const fanInFanOutForced = forcedFanInFanOut(model, fanInFanOut as boolean, where, warnings);

  // Fields we do not support keep PEFT's defaults (validation above refused any other value).
  return {
    ...peftDefaults(),
    peft_version: peftVersion as string,
    base_model_name_or_path: baseName,
    revision,
    inference_mode: inferenceMode,
    r,
    target_modules: target,
    exclude_modules: exclude,
    lora_alpha: alpha as number,
    lora_dropout: dropout as number,
    fan_in_fan_out: fanInFanOutForced,
    bias: bias as LoraBias,
    use_rslora: useRslora,
    use_dora: useDora,
    init_lora_weights: init,
    layers_to_transform: layersToTransform,
    layers_pattern: layersPattern,
    rank_pattern: c.pattern('rank_pattern', get('rank_pattern')),
    alpha_pattern: c.pattern('alpha_pattern', get('alpha_pattern')),
    megatron_core: megatronCore,
    qalora_group_size: qaloraGroupSize,
  };
}

/**
 * A full LoraConfig from the fields given, PEFT's defaults for the rest (target_modules per model type), the base
 * model's name or path and revision, and fan_in_fan_out as PEFT forces it (true for GPT-2's Conv1D). Every field is
 * checked; a bad one throws a LoraConfigError naming the field, its value and what is expected.
 */
export function makeLoraConfig(
  partial: Partial<LoraConfig>,
  model: ModelConfig,
  base: { nameOrPath: string; revision?: string | null },
): LoraConfig {
  if (typeof base.nameOrPath !== 'string' || base.nameOrPath.length === 0) {
    throw new LoraConfigError(`LoRA config: the base model's name or path is empty; expected e.g. "gpt2" or "HuggingFaceTB/SmolLM2-135M"`);
  }
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) raw[k] = v;
  for (const k of ['base_model_name_or_path', 'revision'] as const) {
    const want = k === 'base_model_name_or_path' ? base.nameOrPath : (base.revision ?? null);
    if (raw[k] !== undefined && raw[k] !== want) {
      throw new LoraConfigError(`LoRA config: ${k} = ${show(raw[k])} contradicts the base model given (${show(want)}); leave it out`);
    }
  }
  raw.base_model_name_or_path = base.nameOrPath;
  raw.revision = base.revision ?? null;
  return normalize(raw, model, 'LoRA config', 'make', []);
}

/** Checks an existing LoraConfig object again (e.g. before export). Returns the normalized config. */
export function validateLoraConfig(config: LoraConfig, model: ModelConfig): LoraConfig {
  return normalize(config as unknown as Record<string, unknown>, model, 'LoRA config', 'make', []);
}

/**
 * Parses adapter_config.json text as PEFT's LoraConfig.from_pretrained would, for this base model. Missing fields get
 * PEFT's defaults (older PEFT versions wrote fewer); unknown fields with an empty value are ignored with a warning.
 */
export function parseLoraConfigJson(
  text: string,
  model: ModelConfig,
  file = 'adapter_config.json',
): { config: LoraConfig; warnings: string[] } {
  const json = parseConfigObject(text, file, (m) => new LoraConfigError(m));
  if (!('peft_type' in json)) throw new LoraConfigError(`${file}: "peft_type" is missing; PEFT requires it (expected "LORA")`);
  const warnings: string[] = [];
  const config = normalize(json, model, file, 'load', warnings);
  return { config, warnings };
}

/**
 * The config as PEFT's save_pretrained writes it: `json.dumps(asdict(config), indent=2, sort_keys=True)`, with
 * lora_dropout a Python float. `target_modules` is written as given (callers pass what PEFT's inject_adapter leaves
 * there, see effectiveTargetModules); a list is written sorted, since PEFT stores a set (whose order is arbitrary).
 */
export function loraConfigToJson(config: LoraConfig): string {
  const obj: Record<string, PyJson> = {};
  for (const k of LORA_CONFIG_FIELDS) obj[k] = config[k] as PyJson;
  obj.lora_dropout = pyFloat(config.lora_dropout);
  if (Array.isArray(config.target_modules)) obj.target_modules = sortedUnique(config.target_modules);
  if (Array.isArray(config.exclude_modules)) obj.exclude_modules = sortedUnique(config.exclude_modules);
  return pythonJsonDumps(obj, { indent: 2, sortKeys: true });
}

function sortedUnique(xs: string[]): string[] {
  return [...new Set(xs)].sort(compareCodePoints);
}
