/** Vitest assertion over the shared tolerance check (src/kernels/reference/tolerance.ts). */
import { expect } from 'vitest';
import { checkTolerance, describeViolation, type Tolerance } from '../../src/kernels/reference/tolerance';

export function expectClose(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): void {
  expect(actual.length, `${name}: length`).toBe(expected.length);
  const report = checkTolerance(actual, expected, tol);
  expect(report.pass, describeViolation(name, report, tol)).toBe(true);
}
