/**
 * PEFT's IA3Config (`tuners/ia3/config.py`, with the base fields of `config.py`), field for field as
 * `dataclasses.asdict(IA3Config(...))` emits them, its defaults, the checks PEFT's `__post_init__` makes
 * (feedforward_modules must be a subset of target_modules), and which modules it adapts (`tuners/ia3/model.py`):
 *
 * - target_modules: as for LoRA (`check_target_module_exists`): a regex is a full match on the module's name, a list
 *   entry matches a name equal to it or ending in "." + entry; "all-linear" is every linear layer but the output
 *   layer. exclude_modules is checked first, the same way.
 * - feedforward_modules (`_create_and_replace`): a string is a full regex match on the module's name; a list is a
 *   plain suffix match (`current_key.endswith(target_key)`, no dot boundary). A feed-forward module scales its
 *   INPUT with ia3_l (1, in); every other target scales its OUTPUT, bias included, with ia3_l (out, 1).
 * - the defaults when left out (`utils/constants.py`, TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING and
 *   TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING): gpt2 targets c_attn, mlp.c_proj with feed-forward
 *   mlp.c_proj; llama and qwen2 targets k_proj, v_proj, down_proj with feed-forward down_proj.
 */
import type { ModelConfig, ModelType } from '../model/config';
import { linearModules, type LinearModuleSpec } from '../model/weight-names';
import { ConfigFieldChecker, forcedFanInFanOut, isPlainObject, isUnusedValue, parseConfigObject, screenUnknownFields, showValue as show } from './config-values';
import { isAllLinear } from './lora-config';
import { describeLinearModules, effectiveTargetModules, hfModules } from './lora-targets';
import { PEFT_VERSION } from './peft-version';
import { compareCodePoints, pythonJsonDumps, type PyJson } from './python-json';
import { pythonFullmatch, PythonRegexError } from './python-regex';

export interface IA3Config {
  // PeftConfigMixin / PeftConfig
  task_type: 'CAUSAL_LM';
  peft_type: 'IA3';
  auto_mapping: null;
  peft_version: string;
  base_model_name_or_path: string | null;
  revision: string | null;
  inference_mode: boolean;
  // IA3Config
  /** A list (equal to an entry or ending in "." + entry), a regex (re.fullmatch), or "all-linear". */
  target_modules: string[] | string;
  exclude_modules: string[] | string | null;
  /** A list (plain suffix match) or a regex (re.fullmatch): the targets whose input is scaled. */
  feedforward_modules: string[] | string;
  /** true for GPT-2 (Conv1D weights are [in, out]); PEFT forces it per layer type. */
  fan_in_fan_out: boolean;
  modules_to_save: null;
  /** true: ia3_l starts at ones (the adapter starts as the identity). */
  init_ia3_weights: boolean;
}

/** Every key of `adapter_config.json` that PEFT writes for IA³, sorted. */
export const IA3_CONFIG_FIELDS = [
  'auto_mapping', 'base_model_name_or_path', 'exclude_modules', 'fan_in_fan_out', 'feedforward_modules', 'inference_mode',
  'init_ia3_weights', 'modules_to_save', 'peft_type', 'peft_version', 'revision', 'target_modules', 'task_type',
] as const satisfies readonly (keyof IA3Config)[];

/** PEFT's TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING for the supported model types. */
export const DEFAULT_IA3_TARGET_MODULES: Readonly<Record<ModelType, readonly string[]>> = {
  gpt2: ['c_attn', 'mlp.c_proj'],
  llama: ['k_proj', 'v_proj', 'down_proj'],
  qwen2: ['k_proj', 'v_proj', 'down_proj'],
};

/** PEFT's TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING for the supported model types. */
export const DEFAULT_IA3_FEEDFORWARD_MODULES: Readonly<Record<ModelType, readonly string[]>> = {
  gpt2: ['mlp.c_proj'],
  llama: ['down_proj'],
  qwen2: ['down_proj'],
};

/** The help texts of IA3Config's fields, as PEFT's dataclass gives them (shortened). */
export const IA3_HELP = {
  target_modules: 'List of module names or regex expression of the module names to replace with (IA)³',
  feedforward_modules: 'List of module names or a regex expression of module names which are feedforward',
} as const;

export class IA3ConfigError extends Error {
  override name = 'IA3ConfigError';
}

/** The dataclass defaults (target_modules and feedforward_modules filled in per model type by makeIA3Config). */
export function ia3PeftDefaults(): Omit<IA3Config, 'target_modules' | 'feedforward_modules'> & {
  target_modules: string[] | string | null;
  feedforward_modules: string[] | string | null;
} {
  return {
    task_type: 'CAUSAL_LM',
    peft_type: 'IA3',
    auto_mapping: null,
    peft_version: PEFT_VERSION,
    base_model_name_or_path: null,
    revision: null,
    inference_mode: false,
    target_modules: null,
    exclude_modules: null,
    feedforward_modules: null,
    fan_in_fan_out: false,
    modules_to_save: null,
    init_ia3_weights: true,
  };
}

class Checker extends ConfigFieldChecker {
  constructor(where: string) {
    super(where, (message) => new IA3ConfigError(message));
  }

  regex(field: string, pattern: string): void {
    try {
      pythonFullmatch(pattern, `${this.where}: ${field}`);
    } catch (e) {
      if (e instanceof PythonRegexError) throw new IA3ConfigError(e.message.startsWith(this.where) ? e.message : `${this.where}: ${field}: ${e.message}`);
      throw e;
    }
  }

  /** allowEmpty: an empty list selects nothing (PEFT takes feedforward_modules = [] as "no feed-forward module"). */
  moduleSelector(field: string, v: unknown, allowAllLinear: boolean, allowEmpty = false): string[] | string {
    if (typeof v === 'string') {
      if (v.length === 0) this.fail(field, v, 'a non-empty regex or a list of module names' + (allowAllLinear ? ', or "all-linear"' : ''));
      if (!(allowAllLinear && isAllLinear(v))) this.regex(field, v);
      return v;
    }
    const expected = `a ${allowEmpty ? '' : 'non-empty '}list of module names (e.g. ["k_proj", "down_proj"]), a regex string${allowAllLinear ? ', or "all-linear"' : ''}`;
    if (!Array.isArray(v) || (v.length === 0 && !allowEmpty)) this.fail(field, v, expected);
    for (const x of v) if (typeof x !== 'string' || x.length === 0) this.fail(field, v, `${expected}; found the entry ${show(x)}`);
    return [...(v as string[])];
  }
}

function normalize(raw: Record<string, unknown>, model: ModelConfig, where: string, mode: 'make' | 'load', warnings: string[]): IA3Config {
  const c = new Checker(where);
  screenUnknownFields({ raw, fields: IA3_CONFIG_FIELDS, className: 'IA3Config', where, mode, warnings, error: (m) => new IA3ConfigError(m) });
  const d = ia3PeftDefaults() as Record<string, unknown>;
  const get = (k: string): unknown => (raw[k] === undefined ? d[k] : raw[k]);

  const peftType = get('peft_type');
  if (peftType !== 'IA3') c.fail('peft_type', peftType, '"IA3"');
  let taskType = get('task_type');
  if (mode === 'load' && taskType === null) taskType = 'CAUSAL_LM';
  if (taskType !== 'CAUSAL_LM') c.fail('task_type', taskType, '"CAUSAL_LM" (PEFT Studio adapts causal language models)');
  const autoMapping = get('auto_mapping');
  if (autoMapping !== null && !(mode === 'load' && isPlainObject(autoMapping))) c.fail('auto_mapping', autoMapping, 'null');
  const modulesToSave = get('modules_to_save');
  if (!isUnusedValue(modulesToSave)) {
    throw new IA3ConfigError(`${where}: modules_to_save = ${show(modulesToSave)} is not supported yet (extra fully trained modules); expected null`);
  }
  const peftVersion = get('peft_version');
  if (typeof peftVersion !== 'string' || peftVersion.length === 0) c.fail('peft_version', peftVersion, 'a version string such as "0.21.0"');
  const inferenceMode = c.bool('inference_mode', get('inference_mode'));
  const fanInFanOut = c.bool('fan_in_fan_out', get('fan_in_fan_out'));
  const init = c.bool('init_ia3_weights', get('init_ia3_weights'));

  let targetRaw = get('target_modules');
  if (targetRaw === null) targetRaw = [...DEFAULT_IA3_TARGET_MODULES[model.modelType]];
  const target = c.moduleSelector('target_modules', targetRaw, true);
  let ffRaw = get('feedforward_modules');
  if (ffRaw === null) ffRaw = [...DEFAULT_IA3_FEEDFORWARD_MODULES[model.modelType]];
  const ff = c.moduleSelector('feedforward_modules', ffRaw, false, true);
  const excludeRaw = get('exclude_modules');
  const exclude = excludeRaw === null ? null : c.moduleSelector('exclude_modules', excludeRaw, false);
  // IA3Config.__post_init__: "`feedforward_modules` should be a subset of `target_modules`" (both lists). PEFT runs
  // the check before filling in the defaults; here it runs after, so a feed-forward module that is never targeted
  // (and would silently do nothing) is refused too.
  if (Array.isArray(ff) && Array.isArray(target)) {
    const missing = ff.filter((m) => !target.includes(m));
    if (missing.length > 0) {
      throw new IA3ConfigError(
        `${where}: feedforward_modules = ${show(ff)} is invalid; it must be a subset of target_modules = ${show(target)} ` +
          `(PEFT: "\`feedforward_modules\` should be a subset of \`target_modules\`"); ${show(missing)} ${missing.length === 1 ? 'is' : 'are'} not among the targets`,
      );
    }
  }
  const baseName = c.nullableString('base_model_name_or_path', get('base_model_name_or_path'));
  const revision = c.nullableString('revision', get('revision'));
  const forced = forcedFanInFanOut(model, fanInFanOut as boolean, where, warnings);
  return {
    ...ia3PeftDefaults(),
    peft_version: peftVersion as string,
    base_model_name_or_path: baseName,
    revision,
    inference_mode: inferenceMode,
    target_modules: target,
    exclude_modules: exclude,
    feedforward_modules: ff,
    fan_in_fan_out: forced,
    init_ia3_weights: init,
  };
}

/**
 * A full IA3Config from the fields given, PEFT's defaults for the rest (targets and feed-forward modules per model
 * type), the base model's name and revision, and fan_in_fan_out as PEFT forces it. A bad field throws an
 * IA3ConfigError naming it.
 */
export function makeIA3Config(partial: Partial<IA3Config>, model: ModelConfig, base: { nameOrPath: string; revision?: string | null }): IA3Config {
  if (typeof base.nameOrPath !== 'string' || base.nameOrPath.length === 0) {
    throw new IA3ConfigError(`IA³ config: the base model's name or path is empty; expected e.g. "gpt2"`);
  }
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) raw[k] = v;
  raw.base_model_name_or_path = base.nameOrPath;
  raw.revision = base.revision ?? null;
  return normalize(raw, model, 'IA³ config', 'make', []);
}

/** Checks an existing IA3Config again (e.g. before export). */
export function validateIA3Config(config: IA3Config, model: ModelConfig): IA3Config {
  return normalize(config as unknown as Record<string, unknown>, model, 'IA³ config', 'make', []);
}

/** Parses adapter_config.json text as PEFT's IA3Config.from_pretrained would, for this base model. */
export function parseIA3ConfigJson(text: string, model: ModelConfig, file = 'adapter_config.json'): { config: IA3Config; warnings: string[] } {
  const json = parseConfigObject(text, file, (m) => new IA3ConfigError(m));
  if (!('peft_type' in json)) throw new IA3ConfigError(`${file}: "peft_type" is missing; PEFT requires it (expected "IA3")`);
  const warnings: string[] = [];
  return { config: normalize(json, model, file, 'load', warnings), warnings };
}

function sortedUnique(xs: string[]): string[] {
  return [...new Set(xs)].sort(compareCodePoints);
}

/**
 * The config as PEFT's save_pretrained writes it (`json.dumps(asdict(config), indent=2, sort_keys=True)`): lists
 * are sets in PEFT, so they are written sorted; target_modules as inject_adapter leaves it ("all-linear" expanded).
 */
export function ia3ConfigToJson(config: IA3Config, model: ModelConfig): string {
  const obj: Record<string, PyJson> = {};
  for (const k of IA3_CONFIG_FIELDS) obj[k] = config[k] as PyJson;
  obj.target_modules = effectiveTargetModules(config, model);
  if (Array.isArray(config.feedforward_modules)) obj.feedforward_modules = sortedUnique(config.feedforward_modules);
  if (Array.isArray(config.exclude_modules)) obj.exclude_modules = sortedUnique(config.exclude_modules);
  return pythonJsonDumps(obj, { indent: 2, sortKeys: true });
}

/** A module IA³ adapts: its spec, and whether it is feed-forward (scales the input) or not (scales the output). */
export interface IA3Target extends LinearModuleSpec {
  feedforward: boolean;
}

/** The shape of a target's ia3_l as PEFT saves it: (1, in) for feed-forward modules, (out, 1) for the others. */
export function ia3VectorShape(t: Pick<IA3Target, 'feedforward' | 'inFeatures' | 'outFeatures'>): [number, number] {
  return t.feedforward ? [1, t.inFeatures] : [t.outFeatures, 1];
}

/** The modules a config adapts on this model, in module order; throws an IA3ConfigError when it matches none or a non-linear one. */
export function resolveIA3Targets(config: IA3Config, model: ModelConfig): IA3Target[] {
  const where = 'IA³ config';
  const tm = effectiveTargetModules(config, model);
  const specs = new Map(linearModules(model).map((m) => [m.path, m]));
  let targetRe: RegExp | null = null;
  let excludeRe: RegExp | null = null;
  let ffRe: RegExp | null = null;
  try {
    if (typeof tm === 'string') targetRe = pythonFullmatch(tm, 'target_modules');
    if (typeof config.exclude_modules === 'string') excludeRe = pythonFullmatch(config.exclude_modules, 'exclude_modules');
    if (typeof config.feedforward_modules === 'string') ffRe = pythonFullmatch(config.feedforward_modules, 'feedforward_modules');
  } catch (e) {
    if (e instanceof PythonRegexError) throw new IA3ConfigError(`${where}: ${e.message}`);
    throw e;
  }
  const out: IA3Target[] = [];
  for (const { name, kind } of hfModules(model)) {
    const ex = config.exclude_modules;
    if (ex !== null && (excludeRe ? excludeRe.test(name) : (ex as string[]).some((e) => name === e || name.endsWith('.' + e)))) continue;
    const found = targetRe ? targetRe.test(name) : (tm as string[]).some((t) => name === t || name.endsWith('.' + t));
    if (!found) continue;
    const spec = specs.get(name);
    if (!spec || kind !== 'linear') {
      throw new IA3ConfigError(
        `${where}: target_modules ${JSON.stringify(config.target_modules)} match "${name}", which is not a linear layer IA³ can adapt here ` +
          `(PEFT's IA³ adapts Linear and Conv1D layers; the output layer is not supported). Linear modules of this ${model.modelType} model: ${describeLinearModules(model)}`,
      );
    }
    const feedforward = ffRe ? ffRe.test(name) : (config.feedforward_modules as string[]).some((f) => name.endsWith(f));
    out.push({ ...spec, feedforward });
  }
  if (out.length === 0) {
    throw new IA3ConfigError(
      `${where}: target_modules ${JSON.stringify(config.target_modules)} match no module of this ${model.modelType} model. Available linear modules: ${describeLinearModules(model)}`,
    );
  }
  return out;
}
