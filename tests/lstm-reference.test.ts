/**
 * The float64 LSTM reference on its own: PyTorch's equations by hand for one unit (gate order i, f, g, o), the
 * reverse direction as the forward one over the reversed sequence, the bidirectional output layout, and every
 * gradient of one direction and of a 2-layer bidirectional stack with dropout against central differences.
 */
import { describe, expect, it } from 'vitest';
import {
  biLstmBackwardRef,
  biLstmDropoutFactors,
  biLstmRef,
  lstmDirectionBackwardRef,
  lstmDirectionRef,
  type LstmWeights,
} from '../src/kernels/reference/lstm';
import { expectClose } from './helpers/compare';
import { dot, numericGrad, randomF64 as rand } from './helpers/finite-difference';

const FD_TOL = { atol: 1e-7, rtol: 1e-6 };
const EXACT = { atol: 1e-15, rtol: 1e-13 };


interface Weights64 {
  wIh: Float64Array;
  wHh: Float64Array;
  bIh: Float64Array;
  bHh: Float64Array;
}

function randomWeights(inputSize: number, h: number, seed: number): Weights64 {
  return {
    wIh: rand(4 * h * inputSize, seed, -0.8, 0.8),
    wHh: rand(4 * h * h, seed + 1, -0.8, 0.8),
    bIh: rand(4 * h, seed + 2, -0.5, 0.5),
    bHh: rand(4 * h, seed + 3, -0.5, 0.5),
  };
}

const sig = (v: number) => 1 / (1 + Math.exp(-v));

describe('one direction', () => {
  it('one unit over two steps follows the documented equations, gates in the order i, f, g, o', () => {
    // Distinct values per gate, so a permuted gate order changes the result.
    const w: LstmWeights = { wIh: [0.5, -0.3, 0.8, 0.2], wHh: [0.1, 0.4, -0.6, 0.7], bIh: [0.05, 0.3, -0.1, 0.2], bHh: [-0.2, 0.1, 0.15, -0.05] };
    const x = [1.5, -0.7];
    const r = lstmDirectionRef({ x, n: 2, inputSize: 1, hidden: 1, weights: w, reverse: false });
    let hPrev = 0;
    let cPrev = 0;
    const expected: number[] = [];
    for (const xt of x) {
      const pre = (q: number) => w.wIh[q] * xt + w.bIh[q] + w.wHh[q] * hPrev + w.bHh[q];
      const [i, f, g, o] = [sig(pre(0)), sig(pre(1)), Math.tanh(pre(2)), sig(pre(3))];
      cPrev = f * cPrev + i * g;
      hPrev = o * Math.tanh(cPrev);
      expected.push(hPrev);
    }
    expectClose('h_t', r.out, expected, EXACT);
    expectClose('c_1', [r.cell[1]], [cPrev], EXACT);
  });

  it('the reverse direction is the forward one over the reversed sequence', () => {
    const [n, K, h] = [5, 3, 4];
    const x = rand(n * K, 1);
    const weights = randomWeights(K, h, 2);
    const rev = lstmDirectionRef({ x, n, inputSize: K, hidden: h, weights, reverse: true });
    const xr = new Float64Array(n * K);
    for (let t = 0; t < n; t++) xr.set(x.subarray((n - 1 - t) * K, (n - t) * K), t * K);
    const fwd = lstmDirectionRef({ x: xr, n, inputSize: K, hidden: h, weights, reverse: false });
    for (let t = 0; t < n; t++) {
      expectClose(`h at t = ${t}`, rev.out.subarray(t * h, (t + 1) * h), fwd.out.subarray((n - 1 - t) * h, (n - t) * h), EXACT);
    }
  });

  for (const reverse of [false, true]) {
    it(`${reverse ? 'reverse' : 'forward'}: dx, dW_ih, dW_hh, db_ih, db_hh match finite differences`, () => {
      const [n, K, h] = [4, 3, 2];
      const x = rand(n * K, 3);
      const w = randomWeights(K, h, 4);
      const dOut = rand(n * h, 8);
      const args = { x, n, inputSize: K, hidden: h, weights: w, reverse };
      const g = lstmDirectionBackwardRef(args, lstmDirectionRef(args), dOut);
      const L = () => dot(dOut, lstmDirectionRef(args).out);
      expectClose('dx', g.dx, numericGrad(x, L), FD_TOL);
      expectClose('dW_ih', g.wIh, numericGrad(w.wIh, L), FD_TOL);
      expectClose('dW_hh', g.wHh, numericGrad(w.wHh, L), FD_TOL);
      expectClose('db_ih', g.bIh, numericGrad(w.bIh, L), FD_TOL);
      expectClose('db_hh', g.bHh, numericGrad(w.bHh, L), FD_TOL);
      // dGates is the gradient of the input projection x·W_ihᵀ + b_ih: summed over steps it is db.
      const sum = new Float64Array(4 * h);
      for (let t = 0; t < n; t++) for (let j = 0; j < 4 * h; j++) sum[j] += g.dGates[t * 4 * h + j];
      expectClose('Σ_t dGates', sum, g.bIh, EXACT);
    });
  }
});

describe('bidirectional stack', () => {
  const [n, K, h] = [4, 3, 2];

  it('one layer outputs [h_fwd_t ; h_rev_t] per row', () => {
    const x = rand(n * K, 10);
    const layer = { forward: randomWeights(K, h, 11), reverse: randomWeights(K, h, 15) };
    const out = biLstmRef({ x, n, inputSize: K, hidden: h, layers: [layer] }).out;
    const f = lstmDirectionRef({ x, n, inputSize: K, hidden: h, weights: layer.forward, reverse: false }).out;
    const r = lstmDirectionRef({ x, n, inputSize: K, hidden: h, weights: layer.reverse, reverse: true }).out;
    for (let t = 0; t < n; t++) {
      expectClose(`row ${t} forward half`, out.subarray(t * 2 * h, t * 2 * h + h), f.subarray(t * h, (t + 1) * h), { atol: 0, rtol: 0 });
      expectClose(`row ${t} reverse half`, out.subarray(t * 2 * h + h, (t + 1) * 2 * h), r.subarray(t * h, (t + 1) * h), { atol: 0, rtol: 0 });
    }
  });

  it('dropout: masks of later layers only, 0 or 1/(1 − p), different per layer', () => {
    const d = { p: 0.5, seed: 7 };
    const m1 = biLstmDropoutFactors(8, 4, 1, d);
    const m2 = biLstmDropoutFactors(8, 4, 2, d);
    expect(new Set(m1)).toEqual(new Set([0, 2]));
    expect(Array.from(m1)).not.toEqual(Array.from(m2));
    expect(Array.from(biLstmDropoutFactors(8, 4, 1, null)).every((v) => v === 1)).toBe(true);
  });

  it('2 layers with dropout: dx and every weight gradient match finite differences', () => {
    const x = rand(n * K, 20);
    const layers = [
      { forward: randomWeights(K, h, 21), reverse: randomWeights(K, h, 25) },
      { forward: randomWeights(2 * h, h, 29), reverse: randomWeights(2 * h, h, 33) },
    ];
    const args = { x, n, inputSize: K, hidden: h, layers, dropout: { p: 0.3, seed: 5 } };
    const dOut = rand(n * 2 * h, 40);
    const g = biLstmBackwardRef(args, biLstmRef(args), dOut);
    const L = () => dot(dOut, biLstmRef(args).out);
    expectClose('dx', g.dx, numericGrad(x, L), FD_TOL);
    layers.forEach((layer, k) => {
      for (const dir of ['forward', 'reverse'] as const) {
        for (const p of ['wIh', 'wHh', 'bIh', 'bHh'] as const) {
          expectClose(`layer ${k} ${dir} ${p}`, g.layers[k][dir][p], numericGrad(layer[dir][p], L), FD_TOL);
        }
      }
    });
  });
});
