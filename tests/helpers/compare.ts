/** Element-wise comparison |actual − expected| ≤ atol + rtol·|expected|, reporting the worst element. */
import { expect } from 'vitest';

export interface Tolerance {
  atol: number;
  rtol: number;
}

export function worstViolation(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance) {
  let worst = { index: -1, excess: -Infinity, actual: 0, expected: 0 };
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const excess = Number.isFinite(a) ? Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e)) : Infinity;
    if (excess > worst.excess) worst = { index: i, excess, actual: a, expected: e };
  }
  return worst;
}

export function expectClose(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): void {
  expect(actual.length, `${name}: length`).toBe(expected.length);
  const w = worstViolation(actual, expected, tol);
  expect(
    w.excess <= 0,
    `${name}: element ${w.index} is ${w.actual}, reference ${w.expected} (off by ${Math.abs(w.actual - w.expected)}, ` +
      `allowed ${tol.atol} + ${tol.rtol}·|ref|)`,
  ).toBe(true);
}
