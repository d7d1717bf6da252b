import { describe, expect, it } from 'vitest';
import { checkTolerance } from '../src/kernels/reference/tolerance';

describe('checkTolerance', () => {
  const tol = { atol: 0.1, rtol: 0.01 };
  it('passes within atol + rtol·|ref| and fails just outside', () => {
    expect(checkTolerance([1.0 + 0.105], [1.0], tol).pass).toBe(true); // allowed 0.11
    expect(checkTolerance([1.0 + 0.115], [1.0], tol).pass).toBe(false);
    expect(checkTolerance([100 + 1.05], [100], tol).pass).toBe(true); // allowed 1.1
  });
  it('reports the worst element', () => {
    const r = checkTolerance([0, 0.5, 0.05], [0, 0, 0], tol);
    expect(r.worstIndex).toBe(1);
    expect(r.worstRatio).toBeCloseTo(5, 12);
    expect(r.maxAbsError).toBe(0.5);
  });
  it('accepts exact equality with zero tolerance', () => {
    expect(checkTolerance([1.5, -2], [1.5, -2], { atol: 0, rtol: 0 }).pass).toBe(true);
    expect(checkTolerance([1.5], [1.25], { atol: 0, rtol: 0 }).pass).toBe(false);
  });
  it('fails on NaN, infinity and length mismatch', () => {
    expect(checkTolerance([NaN], [0], tol).pass).toBe(false);
    expect(checkTolerance([Infinity], [0], tol).pass).toBe(false);
    expect(checkTolerance([0, 0], [0], tol).pass).toBe(false);
  });
});
