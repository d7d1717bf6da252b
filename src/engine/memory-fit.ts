/**
 * Will it fit? A memory plan (memory-plan.ts) set against the device's buffer limits and a memory budget, labelled
 * fits / tight / won't fit, with the single changes (weight format, gradient checkpointing, batch, sequence length)
 * that would make it fit; and the table of every weight format with and without checkpointing.
 */
import { WEIGHT_FORMATS, type WeightFormat } from '../kernels/weight-format';
import { DEFAULT_MEMORY_BUDGET, planMemory, TIGHT_SHARE, WEBGPU_DEFAULT_LIMITS, type LargestBuffer, type MemoryPlan, type PlanInput } from './memory-plan';

export type FitLabel = 'fits' | 'tight' | 'wont-fit';

/** One change to the run and the peak it would give. */
export interface FitChange {
  change: 'format' | 'gradient-checkpointing' | 'batch' | 'seq';
  /** The value it sets: a format, true, or a number. */
  value: WeightFormat | boolean | number;
  /** In words, e.g. "nf4 weights", "gradient checkpointing", "batch 2". */
  text: string;
  peak: number;
}

/** Why a plan does not fit: a buffer over the device's binding limit, or the peak over the budget. */
export type FitProblem =
  | { kind: 'buffer'; buffer: LargestBuffer; limitName: 'maxStorageBufferBindingSize' | 'maxBufferSize'; limit: number }
  | { kind: 'budget'; peak: number; budget: number };

/** A problem in English (the command line's words; the studio words the same data in the page's language). */
export function problemText(p: FitProblem): string {
  return p.kind === 'buffer'
    ? `${p.buffer.name} needs one buffer of ${mib(p.buffer.bytes)}, over the device's ${p.limitName} of ${mib(p.limit)}`
    : `the peak, ${gib(p.peak)}, is over the memory budget of ${gib(p.budget)}`;
}

export interface FitAssessment {
  label: FitLabel;
  plan: MemoryPlan;
  budget: number;
  /** Why it does not fit; empty when it fits. */
  problems: FitProblem[];
  /** Single changes that make it fit (label 'fits'), cheapest in quality first: format, checkpointing, batch, length. */
  changes: FitChange[];
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function labelOf(plan: MemoryPlan, input: PlanInput, budget: number): { label: FitLabel; problems: FitProblem[] } {
  const limits = input.limits ?? WEBGPU_DEFAULT_LIMITS;
  const problems: FitProblem[] = [];
  const maxBinding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (plan.largestBuffer.bytes > maxBinding) {
    const limitName = limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
    problems.push({ kind: 'buffer', buffer: plan.largestBuffer, limitName, limit: maxBinding });
  }
  if (plan.peak > budget) problems.push({ kind: 'budget', peak: plan.peak, budget });
  if (problems.length > 0) return { label: 'wont-fit', problems };
  return { label: plan.peak > TIGHT_SHARE * budget ? 'tight' : 'fits', problems };
}

/** The plan of `input`, labelled against `budget` and the input's limits, with the changes that would make it fit. */
export function assessFit(input: PlanInput, budget = DEFAULT_MEMORY_BUDGET): FitAssessment {
  const plan = planMemory(input);
  const { label, problems } = labelOf(plan, input, budget);
  const changes: FitChange[] = [];
  if (label !== 'fits') {
    const consider = (change: FitChange['change'], value: FitChange['value'], text: string, changed: PlanInput) => {
      const p = planMemory(changed);
      if (labelOf(p, changed, budget).label === 'fits') changes.push({ change, value, text, peak: p.peak });
    };
    for (const f of [...WEIGHT_FORMATS].reverse()) if (f !== input.format) consider('format', f, `${f} weights`, { ...input, format: f });
    if (!input.gradientCheckpointing) consider('gradient-checkpointing', true, 'gradient checkpointing', { ...input, gradientCheckpointing: true });
    for (let b = input.batch >> 1; b >= 1; b >>= 1) {
      const before = changes.length;
      consider('batch', b, `batch ${b}`, { ...input, batch: b });
      if (changes.length > before) break;
    }
    for (let t = input.seqLen >> 1; t >= 16; t >>= 1) {
      const before = changes.length;
      consider('seq', t, `sequence length ${t}`, { ...input, seqLen: t });
      if (changes.length > before) break;
    }
  }
  return { label, plan, budget, problems, changes };
}

/** The assessment of every weight format, without and with gradient checkpointing (the Model step's table). */
export function fitTable(input: Omit<PlanInput, 'format' | 'gradientCheckpointing'>, budget = DEFAULT_MEMORY_BUDGET) {
  return WEIGHT_FORMATS.map((format) => ({
    format,
    plain: assessFit({ ...input, format, gradientCheckpointing: false }, budget),
    checkpointed: assessFit({ ...input, format, gradientCheckpointing: true }, budget),
  }));
}
