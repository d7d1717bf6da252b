/**
 * Which modules a LoraConfig adapts, decided as PEFT decides it (PEFT 0.21.0):
 *
 * - `tuners/tuners_utils.py`, `BaseTuner.inject_adapter`: target_modules "all-linear" becomes the set of every
 *   Linear/Conv1D module but the output layer (`_maybe_include_all_linear_layers`); a list of 20 or more names is then
 *   condensed to the shortest suffixes that match no other module (`_find_minimal_target_modules`,
 *   MIN_TARGET_MODULES_FOR_OPTIMIZATION = 20). The config is changed in place, so that is what adapter_config.json
 *   holds afterwards.
 * - `check_target_module_exists`: exclude_modules first (regex: re.fullmatch; list: equal or ending in "." + entry);
 *   then target_modules as a regex (re.fullmatch, no layer filter), or a list: a name equal to an entry matches (no
 *   layer filter), or one ending in "." + entry, which layers_to_transform then filters by the layer index taken from
 *   the name (`.*?\.[^.]*\.(\d+)\.`, or `(?:^|.*?\.)<layers_pattern>\.(\d+)\.`).
 * - `tuners/lora/model.py`, `_create_and_replace`: r and lora_alpha come from the first rank_pattern / alpha_pattern
 *   key (in dict order) for which `re.match(rf"(.*\.)?({key})$", name)` matches (`utils/other.py`, get_pattern_key).
 * - Modules are visited in `named_modules()` order, which for these models is the order of linearModules().
 */
import type { HfModule } from '../model/architecture';
import { architectureOf } from '../model/architectures/index';
import type { ModelConfig } from '../model/config';
import { linearModules, type LinearModuleSpec } from '../model/weight-names';
import { loraScaling } from './lora-scaling';
import { isAllLinear, LoraConfigError, type LoraConfig } from './lora-config';
import { compareCodePoints } from './python-json';
import { compilePythonRegex, pythonFullmatch, pythonPatternKeyRegex, PythonRegexError } from './python-regex';

/** A module LoRA adapts, with its rank, alpha and output scaling. */
export interface ResolvedTarget extends LinearModuleSpec {
  r: number;
  alpha: number;
  /** alpha / r, or alpha / √r with use_rslora. */
  scale: number;
}

/** PEFT's MIN_TARGET_MODULES_FOR_OPTIMIZATION (`utils/constants.py`). */
export const MIN_TARGET_MODULES_FOR_OPTIMIZATION = 20;

/**
 * Every module name of the Hugging Face model in `named_modules()` order, without the root "", with what kind of
 * module it is (from the architecture's description).
 */
export function hfModules(model: ModelConfig): HfModule[] {
  return architectureOf(model).modules(model);
}

function compareLists(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = compareCodePoints(a[i], b[i]);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** PEFT's `_find_minimal_target_modules`: the shortest name suffixes that cover the targets and no other module. */
export function findMinimalTargetModules(targetModules: Iterable<string>, otherModuleNames: Iterable<string>): string[] {
  const targets = new Set(targetModules);
  if (targets.has('')) throw new LoraConfigError('target_modules should not contain an empty string');
  const others = new Set(otherModuleNames);
  for (const t of targets) {
    if (others.has(t)) throw new LoraConfigError(`target_modules and the other module names share "${t}"`);
  }
  // Suffixes from the shortest ("c_attn") to the whole name.
  const suffixes = (s: string) => {
    const parts = s.split('.');
    return parts.map((_, i) => parts.slice(i).join('.')).reverse();
  };
  const otherSuffixes = new Set<string>();
  for (const o of others) for (const s of suffixes(o)) otherSuffixes.add(s);
  const items = [...targets].map((t) => [t, suffixes(t)] as const).sort((x, y) => compareLists(x[1], y[1]));
  const required = new Set<string>();
  for (const [item, sfx] of items) {
    for (const s of sfx) {
      if (required.has(s) || otherSuffixes.has(s)) continue;
      if (![...required].some((req) => item.endsWith('.' + req))) {
        required.add(s);
        break;
      }
    }
  }
  return required.size === 0 ? [...targets] : [...required];
}

/**
 * target_modules as PEFT's inject_adapter leaves it, and so as PEFT saves it: "all-linear" expanded to the module
 * paths, a list of 20 or more condensed to minimal suffixes, a list sorted and without duplicates (PEFT keeps a set);
 * a regex string unchanged.
 */
export function effectiveTargetModules(config: Pick<LoraConfig, 'target_modules'>, model: ModelConfig): string[] | string {
  let t = config.target_modules;
  if (isAllLinear(t)) t = linearModules(model).map((m) => m.path);
  if (typeof t === 'string') return t;
  let list = [...new Set(t)];
  if (list.length >= MIN_TARGET_MODULES_FOR_OPTIMIZATION) {
    const set = new Set(list);
    const suffixes = list.map((s) => '.' + s);
    const keyList = ['', ...hfModules(model).map((m) => m.name)];
    const namesNoTarget = keyList.filter((n) => !set.has(n) && !suffixes.some((s) => n.endsWith(s)));
    const minimal = findMinimalTargetModules(list, namesNoTarget);
    if (minimal.length < list.length) list = minimal;
  }
  return list.sort(compareCodePoints);
}

function asConfigError(e: unknown, where: string): never {
  if (e instanceof PythonRegexError) throw new LoraConfigError(`${where}: ${e.message}`);
  throw e;
}

/**
 * The first key of a rank_pattern / alpha_pattern that matches the module name, as PEFT's get_pattern_key picks it,
 * or null. PEFT walks the dict in its order: the order given when training, but sorted keys once the config has been
 * saved (json.dumps(sort_keys=True)) and loaded. Where the two orders pick different values for a module, the
 * adapter would change meaning when saved, so that is refused.
 */
function patternValue(pattern: Record<string, number>, field: string, name: string): number | null {
  const keys = Object.keys(pattern);
  if (keys.length === 0) return null;
  const matching = keys.filter((k) => {
    try {
      return pythonPatternKeyRegex(k, `${field} key`).test(name);
    } catch (e) {
      asConfigError(e, 'LoRA config');
    }
  });
  if (matching.length === 0) return null;
  const first = matching[0];
  const firstSorted = [...matching].sort(compareCodePoints)[0];
  if (pattern[first] !== pattern[firstSorted]) {
    throw new LoraConfigError(
      `LoRA config: ${field} keys ${JSON.stringify(first)} (${pattern[first]}) and ${JSON.stringify(firstSorted)} (${pattern[firstSorted]}) both match ` +
        `"${name}"; PEFT takes the first matching key in dict order, which becomes sorted order once adapter_config.json is saved, so the ` +
        `adapter would change when reloaded. Make the patterns match disjoint modules`,
    );
  }
  return pattern[first];
}

/** A readable list of the model's linear modules, for error messages. */
export function describeLinearModules(model: ModelConfig): string {
  const mods = linearModules(model);
  const block = architectureOf(model).names.block;
  const subs = [...new Set(mods.map((m) => m.path.slice(`${block(m.layer)}.`.length)))];
  return `${subs.map((s) => `${block(0).replace(/0$/, '<i>')}.${s}`).join(', ')} for layers i = 0..${model.numLayers - 1}`;
}

/**
 * The modules a config adapts on this model, in module order, with their r, alpha and scale. Throws a
 * LoraConfigError when the config matches a module LoRA cannot adapt here, or nothing at all (PEFT raises then too).
 */
export function resolveLoraTargets(config: LoraConfig, model: ModelConfig): ResolvedTarget[] {
  const where = 'LoRA config';
  const tm = effectiveTargetModules(config, model);
  const specs = new Map<string, LinearModuleSpec>(linearModules(model).map((m) => [m.path, m]));
  let targetRe: RegExp | null = null;
  let excludeRe: RegExp | null = null;
  let layerRes: RegExp[] = [];
  try {
    if (typeof tm === 'string') targetRe = pythonFullmatch(tm, 'target_modules');
    if (typeof config.exclude_modules === 'string') excludeRe = pythonFullmatch(config.exclude_modules, 'exclude_modules');
    const lp = config.layers_pattern;
    if (lp === null || lp.length === 0) layerRes = [/^.*?\.[^.]*\.(?<idx>\d+)\./];
    else {
      layerRes = (typeof lp === 'string' ? [lp] : lp).map((p) =>
        compilePythonRegex(p, (src) => `^(?:^|.*?\\.)${src}\\.(?<idx>\\d+)\\.`, 'layers_pattern'),
      );
    }
  } catch (e) {
    asConfigError(e, where);
  }
  const tmSet = typeof tm === 'string' ? null : new Set(tm);
  const lt = config.layers_to_transform;
  const usingLayerIndexes = lt !== null && (Array.isArray(lt) ? lt.length !== 0 : true);

  const excluded: string[] = [];
  const targets: ResolvedTarget[] = [];
  for (const { name, kind } of hfModules(model)) {
    const ex = config.exclude_modules;
    if (ex !== null) {
      const hit = excludeRe ? excludeRe.test(name) : (ex as string[]).some((e) => name === e || name.endsWith('.' + e));
      if (hit) {
        excluded.push(name);
        continue;
      }
    }
    let found: boolean;
    if (targetRe) found = targetRe.test(name);
    else if (tmSet!.has(name)) found = true;
    else {
      found = tm.length > 0 && (tm as string[]).some((t) => name.endsWith('.' + t));
      if (usingLayerIndexes && found) {
        let idx: string | undefined;
        for (const re of layerRes) {
          idx = re.exec(name)?.groups?.idx;
          if (idx !== undefined) break;
        }
        if (idx === undefined) found = false;
        else {
          const layer = Number(idx);
          found = typeof lt === 'number' ? layer === lt : (lt as number[]).includes(layer);
        }
      }
    }
    if (!found) continue;
    const spec = specs.get(name);
    if (!spec || kind !== 'linear') {
      const why =
        kind === 'output'
          ? 'the output layer; LoRA on lm_head is not supported yet'
          : kind === 'embedding'
            ? 'an embedding; LoRA on embeddings is not supported yet'
            : 'not a linear layer (PEFT refuses it too: it adapts Linear, Conv1D, Embedding and Conv layers)';
      throw new LoraConfigError(
        `${where}: target_modules ${JSON.stringify(config.target_modules)} match "${name}", which is ${why}. ` +
          `Linear modules of this ${model.modelType} model: ${describeLinearModules(model)}`,
      );
    }
    const r = patternValue(config.rank_pattern, 'rank_pattern', name) ?? config.r;
    const alpha = patternValue(config.alpha_pattern, 'alpha_pattern', name) ?? config.lora_alpha;
    targets.push({
      ...spec,
      r,
      alpha,
      scale: loraScaling(alpha, r, config.use_rslora),
    });
  }
  if (targets.length === 0) {
    let msg = `${where}: target_modules ${JSON.stringify(config.target_modules)} match no module of this ${model.modelType} model`;
    if (config.layers_to_transform !== null) msg += ` with layers_to_transform ${JSON.stringify(config.layers_to_transform)}`;
    if (config.layers_pattern !== null) msg += ` and layers_pattern ${JSON.stringify(config.layers_pattern)}`;
    if (excluded.length > 0) msg += ` (exclude_modules ${JSON.stringify(config.exclude_modules)} excluded ${excluded.length} modules)`;
    msg += `. Available linear modules: ${describeLinearModules(model)}`;
    throw new LoraConfigError(msg);
  }
  return targets;
}
