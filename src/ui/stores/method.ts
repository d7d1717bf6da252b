/**
 * The Method panel's state: the LoRA options under PEFT's LoraConfig names and the training settings, with
 * PEFT's defaults (target_modules per model type) and DEFAULT_TRAINING. Derived values (the trainable-parameters
 * line, validation errors) are plain functions of the state and the loaded model.
 */
import { create } from 'zustand';
import type { ModelConfig, ModelType } from '../../model/config';
import { linearModules } from '../../model/weight-names';
import { ALL_LINEAR, DEFAULT_LORA_TARGET_MODULES, makeLoraConfig } from '../../peft/lora-config';
import { resolveLoraTargets } from '../../peft/lora-targets';
import { countParameters, trainableParametersLine } from '../../peft/trainable-params';
import { LR_SCHEDULES, type LrScheduleKind } from '../../trainer/lr-schedule';
import { DEFAULT_TRAINING, validateSettings, type TrainingSettings } from '../../trainer/trainer';
import { TRAINING_SETTING_FIELDS, type ModelInfo, type TrainLoraOptions } from '../../worker/protocol';
import { useModel } from './model';

export type MethodBias = 'none' | 'lora_only';
export type TargetModules = string[] | typeof ALL_LINEAR;

/** The LoRA fields the studio sets, under PEFT's names. */
export interface LoraFields {
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  /** The checked module names, or PEFT's "all-linear" shorthand. */
  target_modules: TargetModules;
  use_rslora: boolean;
  bias: MethodBias;
}

/** The training settings the studio sets (the rest keep DEFAULT_TRAINING), plus the validation split. */
export type TrainingFields = Pick<
  TrainingSettings,
  'lr' | 'schedule' | 'warmupSteps' | 'maxSteps' | 'epochs' | 'batchSize' | 'gradAccum' | 'seed' | 'evalEvery' | 'checkpointEvery'
> & {
  /** Fraction of the examples held out for validation. */
  valSplit: number;
};

export const LORA_FIELD_NAMES = ['r', 'lora_alpha', 'lora_dropout', 'target_modules', 'use_rslora', 'bias'] as const satisfies readonly (keyof LoraFields)[];
export const TRAINING_FIELD_NAMES = [
  'lr', 'schedule', 'warmupSteps', 'maxSteps', 'epochs', 'batchSize', 'gradAccum', 'seed', 'evalEvery', 'checkpointEvery', 'valSplit',
] as const satisfies readonly (keyof TrainingFields)[];

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

export const DEFAULT_VAL_SPLIT = 0.1;

export const DEFAULT_LORA_FIELDS: Readonly<LoraFields> = {
  r: 8,
  lora_alpha: 8,
  lora_dropout: 0,
  target_modules: [],
  use_rslora: false,
  bias: 'none',
};

export const DEFAULT_TRAINING_FIELDS: Readonly<TrainingFields> = {
  lr: DEFAULT_TRAINING.lr,
  schedule: DEFAULT_TRAINING.schedule,
  warmupSteps: DEFAULT_TRAINING.warmupSteps,
  maxSteps: DEFAULT_TRAINING.maxSteps,
  epochs: DEFAULT_TRAINING.epochs,
  batchSize: DEFAULT_TRAINING.batchSize,
  gradAccum: DEFAULT_TRAINING.gradAccum,
  seed: DEFAULT_TRAINING.seed,
  evalEvery: DEFAULT_TRAINING.evalEvery,
  checkpointEvery: DEFAULT_TRAINING.checkpointEvery,
  valSplit: DEFAULT_VAL_SPLIT,
};

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
  const out: Partial<Record<keyof TrainingSettings, unknown>> = {};
  for (const key of TRAINING_SETTING_FIELDS) if (key in fields) out[key] = (fields as unknown as Record<string, unknown>)[key];
  return out as Partial<TrainingSettings>;
}

export type TrainableSummary = { line: string; trainable: number; all: number } | { error: string };

/**
 * PEFT's print_trainable_parameters line for these LoRA fields on the loaded model, or the validation error
 * (which names the field) that LoraConfig or the target resolution raises.
 */
export function trainableSummary(fields: LoraFields, info: Pick<ModelInfo, 'config' | 'nameOrPath'>): TrainableSummary {
  try {
    const config = makeLoraConfig(loraOptions(fields), info.config, { nameOrPath: info.nameOrPath || 'model' });
    const targets = resolveLoraTargets(config, info.config);
    const counts = countParameters(info.config, targets, config.bias);
    return { line: trainableParametersLine(counts.trainable, counts.all), ...counts };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** The first problem with the training settings (naming the setting), or null. */
export function trainingFieldsError(fields: TrainingFields): string | null {
  if (!LR_SCHEDULES.includes(fields.schedule)) return `schedule = ${JSON.stringify(fields.schedule)}: expected one of ${LR_SCHEDULES.join(', ')}`;
  try {
    validateSettings({ ...DEFAULT_TRAINING, ...trainingSettings(fields) });
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (!(fields.valSplit >= 0 && fields.valSplit < 1)) return `validation split = ${fields.valSplit}: expected a fraction in [0, 1), e.g. 0.1`;
  return null;
}

/** The fields of a state, without its actions. */
export function methodFields(state: MethodFields): MethodFields {
  return { ...pick(state, LORA_FIELD_NAMES), ...pick(state, TRAINING_FIELD_NAMES) } as MethodFields;
}
