/**
 * The Method panel's state: the LoRA options under PEFT's LoraConfig names and the training settings, with the
 * option schema's defaults (src/options: PEFT's and transformers'; target_modules per model type). Derived values
 * (the trainable-parameters line, validation errors) are plain functions of the state and the loaded model.
 */
import { create } from 'zustand';
import type { ModelConfig, ModelType } from '../../model/config';
import { linearModules } from '../../model/weight-names';
import { ALL_LINEAR, DEFAULT_LORA_TARGET_MODULES, makeLoraConfig } from '../../peft/lora-config';
import { resolveLoraTargets } from '../../peft/lora-targets';
import { countParameters, trainableParametersLine } from '../../peft/trainable-params';
import { firstProblem, pickFields, problemText } from '../../options/field';
import { LORA_DEFAULTS, LORA_FIELDS, type LoraOptions } from '../../options/lora-fields';
import { RUN_DEFAULTS, RUN_FIELDS, type RunOptions } from '../../options/run-fields';
import { TRAINING_FIELDS } from '../../options/training-fields';
import { DEFAULT_TRAINING, type TrainingSettings } from '../../trainer/trainer';
import type { ModelInfo, TrainLoraOptions } from '../../worker/protocol';
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

export interface MethodState extends MethodFields {
  /** The model type the target-module defaults were chosen for (null before a model loaded). */
  modelType: ModelType | null;
  setLora(patch: Partial<LoraFields>): void;
  /** Checks or unchecks one module name (leaves "all-linear" for the explicit list). */
  setTarget(name: string, checked: boolean, available: readonly string[]): void;
  /** "all-linear" on; off goes back to an explicit list of every linear module name. */
  setAllLinear(on: boolean, available: readonly string[]): void;
  setTraining(patch: Partial<TrainingFields>): void;
  /** "Quick demo for the embedded model". */
  applyDemoPreset(): void;
  /** Puts saved fields back (the last run's settings). */
  restore(fields: Partial<MethodFields>): void;
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

/** "Quick demo for the embedded model": a few dozen fast steps that visibly change the model. */
export const DEMO_PRESET: Readonly<Partial<MethodFields>> = {
  r: 8,
  lora_alpha: 16,
  target_modules: ALL_LINEAR,
  lr: 5e-3,
  schedule: 'constant',
  warmupSteps: 0,
  maxSteps: 30,
  batchSize: 8,
  gradAccum: 1,
  evalEvery: 0,
  checkpointEvery: 5,
  valSplit: 0,
};

function pick<K extends keyof MethodFields>(fields: Partial<MethodFields>, keys: readonly K[]): Partial<Pick<MethodFields, K>> {
  const out: Partial<Pick<MethodFields, K>> = {};
  for (const k of keys) if (fields[k] !== undefined) out[k] = fields[k];
  return out;
}

export const useMethod = create<MethodState>()((set, get) => ({
  ...DEFAULT_LORA_FIELDS,
  ...DEFAULT_TRAINING_FIELDS,
  modelType: null,

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
  applyDemoPreset() {
    set({ ...DEMO_PRESET });
  },
  restore(fields) {
    set({ ...pick(fields, LORA_FIELD_NAMES), ...pick(fields, TRAINING_FIELD_NAMES) });
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
  return { r: fields.r, lora_alpha: fields.lora_alpha, lora_dropout: fields.lora_dropout, target_modules, use_rslora: fields.use_rslora, bias: fields.bias };
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
 * PEFT's print_trainable_parameters line for these LoRA fields on the loaded model, or the validation error
 * (which names the field) that the option schema, LoraConfig or the target resolution raises.
 */
export function trainableSummary(fields: LoraFields, info: Pick<ModelInfo, 'config' | 'nameOrPath'>): TrainableSummary {
  const options = loraOptions(fields);
  const problem = firstProblem(LORA_FIELDS, options);
  if (problem) return { error: problemText(problem) };
  try {
    const config = makeLoraConfig(options, info.config, { nameOrPath: info.nameOrPath || 'model' });
    const targets = resolveLoraTargets(config, info.config);
    const counts = countParameters(info.config, targets, config.bias);
    return { line: trainableParametersLine(counts.trainable, counts.all), ...counts };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** The first problem with the training settings and the validation split (naming the setting), or null. */
export function trainingFieldsError(fields: TrainingFields): string | null {
  const problem =
    firstProblem(TRAINING_FIELDS, trainingSettings(fields), { complete: true }) ??
    firstProblem(pickFields(RUN_FIELDS, ['valSplit']), { valSplit: fields.valSplit }, { complete: true });
  return problem ? problemText(problem) : null;
}

/** The fields of a state, without its actions. */
export function methodFields(state: MethodFields): MethodFields {
  return { ...pick(state, LORA_FIELD_NAMES), ...pick(state, TRAINING_FIELD_NAMES) } as MethodFields;
}
