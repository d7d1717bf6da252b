/**
 * The learning-rate schedules against values worked out by hand from transformers' lr_lambda functions
 * (warmup start and end, middle, last step, past the end), and their validation errors.
 */
import { describe, expect, it } from 'vitest';
import { learningRate, lrMultiplier, type LrScheduleKind } from '../src/trainer/lr-schedule';

const base = { baseLr: 2, warmupSteps: 4, totalSteps: 10 };
const lr = (schedule: LrScheduleKind, step: number, over: Partial<typeof base> = {}) =>
  learningRate(step, { schedule, ...base, ...over });

describe('learningRate', () => {
  it('warms up linearly from 0 over warmupSteps, the same for every schedule', () => {
    for (const s of ['constant', 'linear', 'cosine'] as const) {
      expect(lr(s, 0)).toBe(0);
      expect(lr(s, 1)).toBe(0.5); // 2·1/4
      expect(lr(s, 3)).toBe(1.5); // 2·3/4
      expect(lr(s, 4)).toBe(2); // warmup done: the full rate
    }
  });

  it('constant: baseLr after the warmup, up to and past the last step', () => {
    expect(lr('constant', 7)).toBe(2);
    expect(lr('constant', 9)).toBe(2);
    expect(lr('constant', 25)).toBe(2);
  });

  it('linear: (total − step)/(total − warmup), down to 0 and clamped there', () => {
    expect(lr('linear', 7)).toBeCloseTo(2 * (3 / 6), 15); // middle of the decay
    expect(lr('linear', 9)).toBeCloseTo(2 * (1 / 6), 15); // last step
    expect(lr('linear', 10)).toBe(0);
    expect(lr('linear', 12)).toBe(0);
  });

  it('cosine (half a cycle): ½(1 + cos(π·progress))', () => {
    expect(lr('cosine', 7)).toBeCloseTo(2 * 0.5, 15); // progress ½: cos(π/2) = 0
    expect(lr('cosine', 9)).toBeCloseTo(2 * 0.5 * (1 - Math.sqrt(3) / 2), 15); // progress 5/6: cos(5π/6) = −√3/2
    expect(lr('cosine', 10)).toBeCloseTo(0, 15);
    // As transformers: past the end the cosine rises again (progress 1.5: ½(1 + cos(1.5π)) = ½).
    expect(lr('cosine', 13)).toBeCloseTo(1, 15);
  });

  it('without warmup, step 0 already has the full rate', () => {
    expect(lr('linear', 0, { warmupSteps: 0 })).toBe(2);
    expect(lr('cosine', 0, { warmupSteps: 0 })).toBe(2);
    expect(lr('constant', 0, { warmupSteps: 0 })).toBe(2);
    expect(lr('linear', 5, { warmupSteps: 0 })).toBe(1); // 2·(10 − 5)/10
  });

  it('warmup longer than training stays in the warmup ramp, as transformers does', () => {
    expect(lrMultiplier(5, { schedule: 'cosine', baseLr: 1, warmupSteps: 20, totalSteps: 10 })).toBe(0.25);
  });

  it('rejects bad options with a message naming them', () => {
    const ok = { schedule: 'linear' as const, baseLr: 1e-3, warmupSteps: 2, totalSteps: 10 };
    expect(() => learningRate(-1, ok)).toThrow(/step must be an integer ≥ 0/);
    expect(() => learningRate(1.5, ok)).toThrow(/step/);
    expect(() => learningRate(0, { ...ok, schedule: 'step' as LrScheduleKind })).toThrow(/schedule must be one of constant, linear, cosine/);
    expect(() => learningRate(0, { ...ok, baseLr: -1 })).toThrow(/baseLr/);
    expect(() => learningRate(0, { ...ok, baseLr: NaN })).toThrow(/baseLr/);
    expect(() => learningRate(0, { ...ok, warmupSteps: -1 })).toThrow(/warmupSteps/);
    expect(() => learningRate(0, { ...ok, totalSteps: 0 })).toThrow(/totalSteps/);
    expect(() => learningRate(0, { ...ok, totalSteps: 2.5 })).toThrow(/totalSteps/);
  });
});
