/**
 * The comparison every kernel check uses: |actual − expected| ≤ atol + rtol·|expected|, element by element.
 * A length mismatch, NaN or infinity fails.
 */

export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface ToleranceReport {
  pass: boolean;
  /** max over elements of |actual − expected| / (atol + rtol·|expected|); ≤ 1 passes. */
  worstRatio: number;
  /** Element with the worst ratio, and its values. */
  worstIndex: number;
  actual: number;
  expected: number;
  maxAbsError: number;
}

export function checkTolerance(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): ToleranceReport {
  if (actual.length !== expected.length) {
    return { pass: false, worstRatio: Infinity, worstIndex: -1, actual: NaN, expected: NaN, maxAbsError: Infinity };
  }
  let report: ToleranceReport = { pass: true, worstRatio: 0, worstIndex: -1, actual: NaN, expected: NaN, maxAbsError: 0 };
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    // NaN compares false everywhere, so test with !(≤) and map it to Infinity.
    const ratio = Number.isNaN(err) ? Infinity : err === 0 ? 0 : err / (tol.atol + tol.rtol * Math.abs(expected[i]));
    if (!(err <= report.maxAbsError)) report.maxAbsError = Number.isNaN(err) ? Infinity : err;
    if (report.worstIndex < 0 || ratio > report.worstRatio) {
      report = { ...report, worstRatio: ratio, worstIndex: i, actual: actual[i], expected: expected[i] };
    }
  }
  report.pass = report.worstRatio <= 1;
  return report;
}

export function describeViolation(name: string, r: ToleranceReport, tol: Tolerance): string {
  if (r.worstIndex < 0) return `${name}: length mismatch`;
  return (
    `${name}: element ${r.worstIndex} is ${r.actual}, reference ${r.expected} ` +
    `(off by ${Math.abs(r.actual - r.expected)}, allowed ${tol.atol} + ${tol.rtol}·|ref|; worst ratio ${r.worstRatio.toFixed(3)})`
  );
}
