/**
 * The Model step's memory plan (engine/memory-plan.ts, engine/memory-fit.ts) from the page's state: config.json of
 * the model the user named, the Method step's method, options and training settings, the sequence length, the
 * weight format, the GPU's buffer limits and the memory budget. Plain functions of that state, so that tests can
 * call them; the Model store reads config.json, the panel renders the result.
 */
import { fitTable, type FitAssessment } from '../../engine/memory-fit';
import { TIGHT_SHARE, WEBGPU_DEFAULT_LIMITS, type BufferLimits, type PlanInput, type PlanMethod } from '../../engine/memory-plan';
import type { WeightFormat } from '../../kernels/weight-format';
import type { BaseModelName } from '../../methods/method';
import { planMethodOf } from '../../methods/plan-method';
import type { ModelConfig, ModelType } from '../../model/config';
import { ALL_LINEAR } from '../../peft/lora-config';
import type { AdapterReport } from '../../gpu/device';
import { defaultTargetModules, methodSpec, type MethodChoice } from './method';

export { TIGHT_SHARE };

/** The budget in GiB the user can type: a positive, finite number. */
export function acceptsBudgetGib(gib: number): boolean {
  return Number.isFinite(gib) && gib > 0 && gib <= 1024;
}

/**
 * The buffer limits to plan against: those of the GPU the worker trains on (its probe's report), else the page's
 * adapter's (the same adapter, as the Device card shows it), else WebGPU's defaults (`fromDevice` false).
 */
export function planLimits(reports: readonly (AdapterReport | null | undefined)[]): { limits: BufferLimits; fromDevice: boolean } {
  const report = reports.find((r): r is AdapterReport => r != null);
  if (!report) return { limits: WEBGPU_DEFAULT_LIMITS, fromDevice: false };
  const { maxBufferSize, maxStorageBufferBindingSize } = report.limits;
  return { limits: { maxBufferSize, maxStorageBufferBindingSize }, fromDevice: true };
}

/**
 * What the chosen method adds to the pass, for a model of this config. LoRA's module list as the Method store will
 * hold it once this model loads: a list of names chosen for another model type (or none yet, before any model
 * loaded) becomes PEFT's default for this one (MethodState.modelLoaded); "all-linear" stays. Throws when the
 * options do not make a method for this model (the message names the option).
 */
export function planMethodFor(choice: MethodChoice, storeModelType: ModelType | null, config: ModelConfig, base: BaseModelName): PlanMethod {
  const forModel: MethodChoice =
    choice.methodId === 'lora' && choice.target_modules !== ALL_LINEAR && storeModelType !== config.modelType
      ? { ...choice, target_modules: defaultTargetModules(config.modelType) }
      : choice;
  const spec = methodSpec(forModel);
  return planMethodOf(spec.id, spec.options, config, base);
}

export interface MemoryPlanInputs {
  config: ModelConfig;
  base: BaseModelName;
  choice: MethodChoice;
  /** The model type the Method store's module lists were chosen for (MethodState.modelType). */
  storeModelType: ModelType | null;
  batch: number;
  seqLen: number;
  format: WeightFormat;
  gradientCheckpointing: boolean;
  limits: BufferLimits;
  /** Bytes. */
  budget: number;
}

export type MemoryPlanView =
  | { ok: false; reason: 'settings' }
  | { ok: false; reason: 'method'; message: string }
  | {
      ok: true;
      input: Omit<PlanInput, 'format' | 'gradientCheckpointing'>;
      table: ReturnType<typeof fitTable>;
      /** The assessment of the current format and checkpointing setting. */
      current: FitAssessment;
    };

/** The table of every weight format with and without checkpointing, and the current configuration's assessment. */
export function memoryPlanView(p: MemoryPlanInputs): MemoryPlanView {
  const whole = (n: number) => Number.isInteger(n) && n >= 1;
  if (!whole(p.batch) || !whole(p.seqLen) || !(p.budget > 0)) return { ok: false, reason: 'settings' };
  let method: PlanMethod;
  try {
    method = planMethodFor(p.choice, p.storeModelType, p.config, p.base);
  } catch (e) {
    return { ok: false, reason: 'method', message: e instanceof Error ? e.message : String(e) };
  }
  const input = { config: p.config, batch: p.batch, seqLen: p.seqLen, method, limits: p.limits };
  const table = fitTable(input, p.budget);
  const row = table.find((r) => r.format === p.format) ?? table[0];
  return { ok: true, input, table, current: p.gradientCheckpointing ? row.checkpointed : row.plain };
}
