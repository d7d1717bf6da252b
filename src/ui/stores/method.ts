/**
 * The Method panel's state: the chosen PEFT method (src/methods/registry.ts), each method's options under PEFT's
 * config names — LoRA's at the top level (r, lora_alpha, …), the others' by method id — and the training settings,
 * with the option schema's defaults (src/options: PEFT's and transformers'; target_modules per model type).
 * Derived values (what train-start sends, the trainable-parameters line, validation errors) are plain functions of
 * the state and the loaded model.
 */
import { create } from 'zustand';
import type { MethodId } from '../../methods/method';
import { availableMethods, methodById, planMethod } from '../../methods/registry';
import type { ModelConfig, ModelType } from '../../model/config';
import { linearModules } from '../../model/weight-names';
import { ALL_LINEAR, DEFAULT_LORA_TARGET_MODULES } from '../../peft/lora-config';
import { trainableParametersLine } from '../../peft/trainable-params';
import { defaultsOf, firstProblem, formatNumber, pickFields, plainText, withUnusedAtDefault, type FieldSet } from '../../options/field';
import { LORA_DEFAULTS, LORA_FIELDS, type LoraOptions } from '../../options/lora-fields';
import { RUN_DEFAULTS, RUN_FIELDS, type RunOptions } from '../../options/run-fields';
import { TRAINING_FIELDS } from '../../options/training-fields';
import { DEFAULT_TRAINING, type TrainingSettings } from '../../trainer/trainer';
import type { ModelInfo, TrainLoraOptions, TrainMethodSpec } from '../../worker/protocol';
import { fieldText } from '../i18n/field-text';
import { messagesFor, useLocale, type Lang } from '../i18n';
import { useModel } from './model';

export type MethodBias = LoraOptions['bias'];
export type TargetModules = string[] | typeof ALL_LINEAR;

/** The LoRA fields the studio sets, under PEFT's names (src/options/lora-fields.ts). */
export interface LoraFields extends Omit<LoraOptions, 'target_modules'> {
  /** The checked module names, or PEFT's "all-linear" shorthand. */
  target_modules: TargetModules;
}

/** The training settings (src/options/training-fields.ts), plus the validation split. */
export type TrainingFields = TrainingSettings & Pick<RunOptions, 'valSplit'>;

export const LORA_FIELD_NAMES = Object.keys(LORA_FIELDS) as (keyof LoraFields)[];
export const TRAINING_FIELD_NAMES = [...Object.keys(TRAINING_FIELDS), 'valSplit'] as (keyof TrainingFields)[];

export type MethodFields = LoraFields & TrainingFields;

/** The methods whose options the store keeps by method id (LoRA's are the top-level LoRA fields). */
export type OtherMethodId = Exclude<MethodId, 'lora'>;
export type OtherMethodOptions = Record<OtherMethodId, Record<string, unknown>>;

/** The chosen method and the options of each: what the trainable-parameters line and train-start read. */
export interface MethodChoice extends LoraFields {
  methodId: MethodId;
  otherOptions: OtherMethodOptions;
}

export interface MethodState extends MethodFields, MethodChoice {
  /** The model type the target-module defaults were chosen for (null before a model loaded). */
  modelType: ModelType | null;
  setMethodId(id: MethodId): void;
  /** Sets options of a method other than LoRA (LoRA's: setLora). */
  setMethodOptions(id: OtherMethodId, patch: Record<string, unknown>): void;
  setLora(patch: Partial<LoraFields>): void;
  /** Checks or unchecks one module name (leaves "all-linear" for the explicit list). */
  setTarget(name: string, checked: boolean, available: readonly string[]): void;
  /** "all-linear" on; off goes back to an explicit list of every linear module name. */
  setAllLinear(on: boolean, available: readonly string[]): void;
  setTraining(patch: Partial<TrainingFields>): void;
  /** A "Quick demo" button: its method, options and training settings (LoRA's by default). */
  applyDemoPreset(which?: DemoPresetId): void;
  /**
   * Puts saved fields back (the last run's settings): the LoRA fields and training settings, and the method and
   * options train-start sent when given.
   */
  restore(fields: Partial<MethodFields>, method?: TrainMethodSpec): void;
  /** Resets what depends on the model type (target_modules) when a model of another type loaded. */
  modelLoaded(modelType: ModelType): void;
}

/** PEFT's default target_modules for a model type (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
export function defaultTargetModules(modelType: ModelType): string[] {
  return [...DEFAULT_LORA_TARGET_MODULES[modelType]];
}

/** The module names target_modules can list for a model: each linear layer's last path segment, once, in order. */
export function targetModuleNames(config: ModelConfig): string[] {
  return [...new Set(linearModules(config).map((m) => m.shortName))];
}

/** The option schema's defaults; target_modules is set per model type once a model loads. */
export const DEFAULT_LORA_FIELDS: Readonly<LoraFields> = { ...LORA_DEFAULTS, target_modules: [] };

export const DEFAULT_TRAINING_FIELDS: Readonly<TrainingFields> = { ...DEFAULT_TRAINING, valSplit: RUN_DEFAULTS.valSplit };

/** The methods other than LoRA, in the registry's order. */
export const OTHER_METHOD_IDS = availableMethods()
  .map((m) => m.id)
  .filter((id): id is OtherMethodId => id !== 'lora');

function isOtherMethodId(id: string): id is OtherMethodId {
  return (OTHER_METHOD_IDS as readonly string[]).includes(id);
}

/** Each method's field defaults (PEFT's), for the methods whose options the store keeps by id. */
export function defaultOtherOptions(): OtherMethodOptions {
  return Object.fromEntries(OTHER_METHOD_IDS.map((id) => [id, defaultsOf(methodById(id).fields)])) as OtherMethodOptions;
}

/** The training settings both quick demos share: a few dozen fast steps on the embedded model. */
const DEMO_TRAINING: Readonly<Partial<TrainingFields>> = {
  schedule: 'constant',
  warmupSteps: 0,
  maxSteps: 30,
  batchSize: 8,
  gradAccum: 1,
  evalEvery: 0,
  checkpointEvery: 5,
  valSplit: 0,
};

/** A "Quick demo" button's settings: the method, its options (over the method's defaults) and the training. */
export type DemoPreset =
  | { methodId: 'lora'; lora: Partial<LoraFields>; training: Partial<TrainingFields> }
  | { methodId: OtherMethodId; options: Record<string, unknown>; training: Partial<TrainingFields> };

/** The quick demos for the embedded model (austen-2m on a sample dataset), each of which visibly changes the model. */
export const DEMO_PRESETS = {
  lora: { methodId: 'lora', lora: { r: 8, lora_alpha: 16, target_modules: ALL_LINEAR }, training: { ...DEMO_TRAINING, lr: 5e-3 } },
  'prompt-tuning': {
    methodId: 'prompt-tuning',
    options: { num_virtual_tokens: 10, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'Answer like a pirate:' },
    training: { ...DEMO_TRAINING, lr: 3e-2 },
  },
} as const satisfies Record<string, DemoPreset>;
export type DemoPresetId = keyof typeof DEMO_PRESETS;

/** The UI's language now (the default of the texts below; a component passes its own, to re-render on a switch). */
function currentLang(): Lang {
  return useLocale.getState().lang;
}

/**
 * What a quick demo sets, in words: "r 8, lora_alpha 16, all-linear; lr 0.005 constant, 30 steps of batch 8."
 * (PEFT's field names and values as they are, in every language).
 */
export function demoPresetText(preset: DemoPreset, lang: Lang = currentLang()): string {
  const t = messagesFor('method', lang);
  const method =
    preset.methodId === 'lora'
      ? Object.entries(preset.lora).map(([k, v]) => (k === 'target_modules' ? String(v) : `${k} ${String(v)}`))
      : Object.entries(preset.options).map(([k, v]) => `${k} ${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`);
  const training = preset.training;
  const lr = formatNumber(training.lr ?? DEFAULT_TRAINING.lr);
  const schedule = training.schedule ?? DEFAULT_TRAINING.schedule;
  return t.demoText(method.join(', '), t.demoTraining(lr, schedule, training.maxSteps ?? DEFAULT_TRAINING.maxSteps, training.batchSize ?? DEFAULT_TRAINING.batchSize));
}

function pick<K extends keyof MethodFields>(fields: Partial<MethodFields>, keys: readonly K[]): Partial<Pick<MethodFields, K>> {
  const out: Partial<Pick<MethodFields, K>> = {};
  for (const k of keys) if (fields[k] !== undefined) out[k] = fields[k];
  return out;
}

/** A method's options as the store keeps them: the method's defaults, then the given fields it has. */
function optionsOver(id: OtherMethodId, options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const fields = methodById(id).fields;
  const out = defaultsOf(fields) as Record<string, unknown>;
  for (const [k, v] of Object.entries(options)) if (Object.hasOwn(fields, k) && v !== undefined) out[k] = v;
  return out;
}

export const useMethod = create<MethodState>()((set, get) => ({
  ...DEFAULT_LORA_FIELDS,
  ...DEFAULT_TRAINING_FIELDS,
  methodId: 'lora',
  otherOptions: defaultOtherOptions(),
  modelType: null,

  setMethodId(id) {
    methodById(id);
    set({ methodId: id });
  },
  setMethodOptions(id, patch) {
    set({ otherOptions: { ...get().otherOptions, [id]: optionsOver(id, { ...get().otherOptions[id], ...patch }) } });
  },
  setLora(patch) {
    set(pick(patch, LORA_FIELD_NAMES));
  },
  setTarget(name, checked, available) {
    const current = get().target_modules;
    const list = current === ALL_LINEAR ? [...available] : current;
    const next = checked ? (list.includes(name) ? list : [...list, name]) : list.filter((n) => n !== name);
    // Keep the model's order, so the same choice always gives the same adapter_config.json.
    const order = (n: string) => (available.includes(n) ? available.indexOf(n) : available.length);
    set({ target_modules: [...next].sort((a, b) => order(a) - order(b)) });
  },
  setAllLinear(on, available) {
    set({ target_modules: on ? ALL_LINEAR : [...available] });
  },
  setTraining(patch) {
    set(pick(patch, TRAINING_FIELD_NAMES));
  },
  applyDemoPreset(which = 'lora') {
    const preset: DemoPreset = DEMO_PRESETS[which];
    const training = pick(preset.training, TRAINING_FIELD_NAMES);
    if (preset.methodId === 'lora') set({ methodId: 'lora', ...pick(preset.lora, LORA_FIELD_NAMES), ...training });
    else set({ methodId: preset.methodId, otherOptions: { ...get().otherOptions, [preset.methodId]: optionsOver(preset.methodId, preset.options) }, ...training });
  },
  restore(fields, method) {
    set({ ...pick(fields, LORA_FIELD_NAMES), ...pick(fields, TRAINING_FIELD_NAMES) });
    // LoRA's options are the LoRA fields put back above (target_modules as the panel's checkboxes keep it).
    if (method?.id === 'lora') set({ methodId: 'lora' });
    else if (method && isOtherMethodId(method.id)) {
      set({ methodId: method.id, otherOptions: { ...get().otherOptions, [method.id]: optionsOver(method.id, method.options) } });
    }
  },
  modelLoaded(modelType) {
    if (get().modelType === modelType) return;
    // "all-linear" means the same on every architecture; a list of names is per architecture.
    set({ modelType, ...(get().target_modules === ALL_LINEAR ? {} : { target_modules: defaultTargetModules(modelType) }) });
  },
}));

useModel.subscribe((state, prev) => {
  if (state.status.state === 'ready' && state.status !== prev.status) useMethod.getState().modelLoaded(state.status.info.config.modelType);
});

/** The LoRA fields of a state, as train-start sends them (bias included: makeLoraConfig takes it). */
export function loraOptions(fields: LoraFields): TrainLoraOptions & { bias: MethodBias } {
  const target_modules = fields.target_modules === ALL_LINEAR ? ALL_LINEAR : [...fields.target_modules];
  return { r: fields.r, lora_alpha: fields.lora_alpha, lora_dropout: fields.lora_dropout, target_modules, use_rslora: fields.use_rslora, use_dora: fields.use_dora, bias: fields.bias };
}

/** The training settings of a state, as train-start sends them (overrides of DEFAULT_TRAINING). */
export function trainingSettings(fields: TrainingFields): Partial<TrainingSettings> {
  // Only the settings train-start knows: callers may pass a whole store state.
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(TRAINING_FIELDS)) if (key in fields) out[key] = (fields as unknown as Record<string, unknown>)[key];
  return out as Partial<TrainingSettings>;
}

export type TrainableSummary = { line: string; trainable: number; all: number } | { error: string };

/**
 * The chosen method and its options as train-start sends them: LoRA's fields, or the method's options with each
 * option that does not matter with the others (the text of a RANDOM init, an LSTM option on the MLP encoder) at its
 * default, as the panel shows it disabled.
 */
export function methodSpec(choice: MethodChoice): TrainMethodSpec {
  if (choice.methodId === 'lora') return { id: 'lora', options: { ...loraOptions(choice) } };
  const fields = methodById(choice.methodId).fields;
  const options = withUnusedAtDefault(fields, choice.otherOptions[choice.methodId]);
  // A module list left at null is PEFT's default for the architecture (IA³'s targets): the run leaves it out.
  return { id: choice.methodId, options: Object.fromEntries(Object.entries(options).filter(([k, v]) => !(v === null && fields[k]?.kind === 'targets'))) };
}

/** A value of a set of fields refused by its field, in the UI's language (the schema's problemText in English). */
function fieldsProblemText(fields: FieldSet, values: Readonly<Record<string, unknown>>, lang: Lang, opts: { complete?: boolean } = {}): string | null {
  const problem = firstProblem(fields, values, opts);
  if (!problem) return null;
  const field = Object.hasOwn(fields, problem.key) ? fields[problem.key] : undefined;
  const label = field ? plainText(fieldText(lang).label(field)) : problem.key;
  return messagesFor('method', lang).fieldProblem(problem, fields, label);
}

/**
 * PEFT's print_trainable_parameters line for a method's options on the loaded model, or the validation error
 * (which names the field) that the option schema or the method's own checks (its PEFT config, its targets) raise.
 * The schema's checks speak the UI's language; the method's own (PEFT's config errors) are PEFT's, in English.
 */
export function trainableSummary(spec: TrainMethodSpec, info: Pick<ModelInfo, 'config' | 'nameOrPath'>, lang: Lang = currentLang()): TrainableSummary {
  try {
    const method = methodById(spec.id);
    const problem = fieldsProblemText(method.fields, spec.options, lang);
    if (problem !== null) return { error: messagesFor('method', lang).methodProblem(fieldText(lang).methodLabel(method), problem) };
    const { counts } = planMethod(method, spec.options, info.config, { nameOrPath: info.nameOrPath || 'model' });
    return { line: trainableParametersLine(counts.trainable, counts.all), ...counts };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** The first problem with the training settings and the validation split (naming the setting), or null. */
export function trainingFieldsError(fields: TrainingFields & { methodId?: MethodId }, lang: Lang = currentLang()): string | null {
  const problem =
    fieldsProblemText(TRAINING_FIELDS, trainingSettings(fields), lang, { complete: true }) ??
    fieldsProblemText(pickFields(RUN_FIELDS, ['valSplit']), { valSplit: fields.valSplit }, lang, { complete: true });
  if (problem) return problem;
  // LoRA+ speeds up lora_B: another method has none (the trainer refuses it too).
  if (fields.methodId !== undefined && fields.methodId !== 'lora' && fields.loraplusLrRatio !== 1) {
    return messagesFor('method', lang).loraplusOnlyLora(fieldText(lang).label(TRAINING_FIELDS.loraplusLrRatio), fields.loraplusLrRatio, methodById(fields.methodId).label);
  }
  return null;
}

/** The fields of a state, without its actions. */
export function methodFields(state: MethodFields): MethodFields {
  return { ...pick(state, LORA_FIELD_NAMES), ...pick(state, TRAINING_FIELD_NAMES) } as MethodFields;
}
