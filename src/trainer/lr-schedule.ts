/**
 * Learning-rate schedules, value for value as transformers' LambdaLR schedules (src/transformers/optimization.py):
 * - 'constant': get_constant_schedule_with_warmup
 * - 'linear':   get_linear_schedule_with_warmup
 * - 'cosine':   get_cosine_schedule_with_warmup with num_cycles = 0.5
 * Each is baseLr times the lambda of the 0-based optimizer step: the scheduler is built at step 0 and advanced
 * after every optimizer step, so the first update uses lambda(0) (= 0 with warmup) and the last lambda(total − 1).
 */

export type LrScheduleKind = 'constant' | 'linear' | 'cosine';

export const LR_SCHEDULES: readonly LrScheduleKind[] = ['constant', 'linear', 'cosine'];

export interface LrScheduleOptions {
  schedule: LrScheduleKind;
  baseLr: number;
  warmupSteps: number;
  /** num_training_steps (unused by 'constant', still checked). */
  totalSteps: number;
}

/** Throws a RangeError naming the first option out of range. */
export function validateLrSchedule(opts: LrScheduleOptions): void {
  if (!LR_SCHEDULES.includes(opts.schedule)) {
    throw new RangeError(`learning-rate schedule must be one of ${LR_SCHEDULES.join(', ')}, got "${String(opts.schedule)}"`);
  }
  if (!(Number.isFinite(opts.baseLr) && opts.baseLr >= 0)) throw new RangeError(`baseLr must be a finite number ≥ 0, got ${opts.baseLr}`);
  if (!(Number.isSafeInteger(opts.warmupSteps) && opts.warmupSteps >= 0)) {
    throw new RangeError(`warmupSteps must be an integer ≥ 0, got ${opts.warmupSteps}`);
  }
  if (!(Number.isSafeInteger(opts.totalSteps) && opts.totalSteps >= 1)) {
    throw new RangeError(`totalSteps must be an integer ≥ 1, got ${opts.totalSteps}`);
  }
}

/** The multiplier of baseLr at `step` (transformers' lr_lambda). */
export function lrMultiplier(step: number, opts: LrScheduleOptions): number {
  validateLrSchedule(opts);
  if (!(Number.isSafeInteger(step) && step >= 0)) throw new RangeError(`step must be an integer ≥ 0 (0-based optimizer step), got ${step}`);
  const { warmupSteps: warmup, totalSteps: total } = opts;
  if (step < warmup) return step / Math.max(1, warmup);
  switch (opts.schedule) {
    case 'constant':
      return 1;
    case 'linear':
      return Math.max(0, (total - step) / Math.max(1, total - warmup));
    case 'cosine': {
      const numCycles = 0.5;
      const progress = (step - warmup) / Math.max(1, total - warmup);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * progress)));
    }
  }
}

/** The learning rate of the 0-based optimizer step `step`. */
export function learningRate(step: number, opts: LrScheduleOptions): number {
  return opts.baseLr * lrMultiplier(step, opts);
}
