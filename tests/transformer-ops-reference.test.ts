/**
 * The float64 references of the transformer ops, checked on their own: every backward against central
 * differences of its forward (L = Σ dy ⊙ f(x), so dL/dx is the backward given dy), plus known values.
 */
import { describe, expect, it } from 'vitest';
import { erf, pointwiseBackwardRef, pointwiseRef, swigluBackwardRef, swigluRef } from '../src/kernels/reference/activations';
import { crossEntropyRef } from '../src/kernels/reference/cross-entropy';
import { embeddingRef } from '../src/kernels/reference/embedding';
import { layerNormBackwardRef, layerNormRef, rmsNormBackwardRef, rmsNormRef } from '../src/kernels/reference/norms';
import { ropeBackwardRef, ropeRef } from '../src/kernels/reference/rope';
import { ropeTable } from '../src/kernels/rope';
import { expectClose } from './helpers/compare';
import { dot, numericGrad, randomF64 as rand } from './helpers/finite-difference';

const FD_TOL = { atol: 1e-7, rtol: 1e-6 };


const M = 3;
const d = 7;

describe('norm references', () => {
  it('layer norm: normalized rows, and dx matches finite differences', () => {
    const x = rand(M * d, 1, -2, 3);
    const weight = rand(d, 2, 0.5, 1.5);
    const bias = rand(d, 3);
    const dy = rand(M * d, 4);
    const eps = 1e-5;
    const unit = layerNormRef({ x, M, d, weight: new Float64Array(d).fill(1), bias: new Float64Array(d), eps });
    for (let m = 0; m < M; m++) {
      const row = unit.y.subarray(m * d, (m + 1) * d);
      expect(Math.abs(row.reduce((a, b) => a + b, 0) / d)).toBeLessThan(1e-12);
      expect(Math.abs(dot(row, row) / d - 1)).toBeLessThan(1e-3); // eps keeps it just below 1
    }
    const analytic = layerNormBackwardRef({ x, M, d, weight, eps, dy });
    const numeric = numericGrad(x, () => dot(dy, layerNormRef({ x, M, d, weight, bias, eps }).y));
    expectClose('layer norm dx', analytic, numeric, FD_TOL);
  });

  it('rms norm: dx matches finite differences', () => {
    const x = rand(M * d, 5, -2, 3);
    const weight = rand(d, 6, 0.5, 1.5);
    const dy = rand(M * d, 7);
    const eps = 1e-6;
    const analytic = rmsNormBackwardRef({ x, M, d, weight, eps, dy });
    const numeric = numericGrad(x, () => dot(dy, rmsNormRef({ x, M, d, weight, eps }).y));
    expectClose('rms norm dx', analytic, numeric, FD_TOL);
  });
});

describe('activation references', () => {
  it('gelu_new: known values, and dx matches finite differences', () => {
    expectClose('gelu_new(1, −1, 2)', pointwiseRef('gelu_new', [1, -1, 2]), [0.8411919906082768, -0.15880800939172324, 1.954597694087775], { atol: 1e-15, rtol: 1e-14 });
    const x = Float64Array.from([...rand(16, 8, -4, 4), 0, 1e-4, -6, 6]);
    const dy = rand(x.length, 9);
    expectClose('gelu_new dx', pointwiseBackwardRef('gelu_new', dy, x), numericGrad(x, () => dot(dy, pointwiseRef('gelu_new', x))), FD_TOL);
  });

  // Known values from Python's math.erf; both sides of the switch from the series to the continued fraction at 2.5.
  it('erf: known values on both sides of 2.5, and erfc far out', () => {
    const z = [0.5, 1, 2, 2.4999, 2.5001, 3, -4, 5.5];
    const want = [0.5204998778130465, 0.8427007929497149, 0.9953222650189527, 0.9995928300996666, 0.9995932657565293, 0.9999779095030014, -0.9999999845827421, 0.9999999999999927];
    expectClose('erf', z.map(erf), want, { atol: 1e-14, rtol: 0 });
    expectClose('erfc(4)', [1 - erf(4)], [1.541725790028002e-8], { atol: 0, rtol: 1e-7 });
  });

  it('gelu (exact erf) and swish: known values, and dx matches finite differences', () => {
    expectClose('gelu(1, −1, 2, −3)', pointwiseRef('gelu', [1, -1, 2, -3]), [0.8413447460685429, -0.15865525393145707, 1.9544997361036416, -0.00404969409489031], { atol: 1e-15, rtol: 1e-14 });
    expectClose('swish(1, −2, 5)', pointwiseRef('swish', [1, -2, 5]), [0.7310585786300049, -0.2384058440442351, 4.966535745378576], { atol: 1e-15, rtol: 1e-14 });
    for (const fn of ['gelu', 'swish'] as const) {
      // Points near 2.5·√2 cross erf's switch of method inside the central difference.
      const x = Float64Array.from([...rand(16, 21, -5, 5), 0, 1e-4, 2.5 * Math.SQRT2, -2.5 * Math.SQRT2, -9, 9]);
      const dy = rand(x.length, 22);
      expectClose(`${fn} dx`, pointwiseBackwardRef(fn, dy, x), numericGrad(x, () => dot(dy, pointwiseRef(fn, x))), FD_TOL);
    }
  });

  it('swiglu: known values, and dGate, dUp match finite differences', () => {
    expectClose('silu(1)·1, silu(−2)·1', swigluRef([1, -2], [1, 1]), [0.7310585786300049, -0.2384058440442351], { atol: 1e-15, rtol: 1e-14 });
    const gate = Float64Array.from([...rand(16, 10, -5, 5), 0, -40, 40]);
    const up = rand(gate.length, 11, -2, 2);
    const dh = rand(gate.length, 12);
    const { dGate, dUp } = swigluBackwardRef(dh, gate, up);
    const L = () => dot(dh, swigluRef(gate, up));
    expectClose('swiglu dGate', dGate, numericGrad(gate, L), FD_TOL);
    expectClose('swiglu dUp', dUp, numericGrad(up, L), FD_TOL);
  });

  it('relu: known values, zero gradient at 0 (PyTorch), and dx matches finite differences away from the kink', () => {
    expectClose('relu(−2, 0, 3)', pointwiseRef('relu', [-2, 0, 3]), [0, 0, 3], { atol: 0, rtol: 0 });
    expectClose('relu dx at x = 0', pointwiseBackwardRef('relu', [5, 5], [0, -1]), [0, 0], { atol: 0, rtol: 0 });
    // Keep |x| ≥ 0.05 so no central difference straddles the kink at 0.
    const x = rand(24, 17, -3, 3).map((v) => (Math.abs(v) < 0.05 ? v + 0.1 : v));
    const dy = rand(x.length, 18);
    expectClose('relu dx', pointwiseBackwardRef('relu', dy, x), numericGrad(x, () => dot(dy, pointwiseRef('relu', x))), FD_TOL);
  });

  it('tanh: known values, and dx matches finite differences', () => {
    expectClose('tanh(0.5, −2)', pointwiseRef('tanh', [0.5, -2]), [0.46211715726000974, -0.9640275800758169], { atol: 1e-15, rtol: 1e-14 });
    const x = Float64Array.from([...rand(16, 19, -4, 4), 0, 1e-4, -9, 9]);
    const dy = rand(x.length, 20);
    expectClose('tanh dx', pointwiseBackwardRef('tanh', dy, x), numericGrad(x, () => dot(dy, pointwiseRef('tanh', x))), FD_TOL);
  });
});

describe('rope reference', () => {
  const heads = 2;
  const headDim = 6;
  const positions = [0, 5, 1234];
  const theta = 10000;

  it('position 0 is the identity, the inverse undoes it, and it agrees with ropeTable', () => {
    const x = rand(M * heads * headDim, 13);
    const y = ropeRef({ x, M, heads, headDim, positions, theta });
    expectClose('row at position 0', y.subarray(0, heads * headDim), x.subarray(0, heads * headDim), { atol: 0, rtol: 0 });
    expectClose('rope⁻¹(rope(x))', ropeRef({ x: y, M, heads, headDim, positions, theta, inverse: true }), x, { atol: 1e-14, rtol: 0 });
    const table = ropeTable(1235, headDim, theta);
    const half = headDim / 2;
    for (const p of positions) {
      for (let i = 0; i < half; i++) {
        const a = p * theta ** ((-2 * i) / headDim);
        expect(table[(p * half + i) * 2]).toBe(Math.fround(Math.cos(a)));
        expect(table[(p * half + i) * 2 + 1]).toBe(Math.fround(Math.sin(a)));
      }
    }
  });

  it('dx matches finite differences', () => {
    const x = rand(M * heads * headDim, 14);
    const dy = rand(x.length, 15);
    const analytic = ropeBackwardRef({ dy, M, heads, headDim, positions, theta });
    const numeric = numericGrad(x, () => dot(dy, ropeRef({ x, M, heads, headDim, positions, theta })));
    expectClose('rope dx', analytic, numeric, FD_TOL);
  });
});

describe('cross-entropy reference', () => {
  it('uniform logits give log V; dLogits matches finite differences of the mean loss, zero on ignored rows', () => {
    const V = 11;
    expect(crossEntropyRef({ logits: new Float64Array(2 * V), M: 2, V, targets: [3, 7] }).loss).toBeCloseTo(Math.log(V), 14);
    const Mc = 4;
    const logits = rand(Mc * V, 16, -3, 3);
    const targets = [2, -100, 0, V - 1];
    const ref = crossEntropyRef({ logits, M: Mc, V, targets });
    expect(ref.count).toBe(3);
    expect(ref.rowLoss[1]).toBe(0);
    expect(Array.from(ref.dLogits.subarray(V, 2 * V)).every((v) => v === 0)).toBe(true);
    const numeric = numericGrad(logits, () => crossEntropyRef({ logits, M: Mc, V, targets }).loss);
    expectClose('dLogits', ref.dLogits, numeric, FD_TOL);
  });
});

describe('embedding reference', () => {
  it('adds the token and position rows', () => {
    const out = embeddingRef({ table: [1, 2, 3, 4, 5, 6], V: 3, d: 2, ids: [2, 0], positionTable: [10, 20, 30, 40], P: 2, positions: [1, 0] });
    expect(Array.from(out)).toEqual([35, 46, 11, 22]);
  });
});
