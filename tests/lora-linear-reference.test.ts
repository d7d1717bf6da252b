import { describe, expect, it } from 'vitest';
import { dropoutFactor } from '../src/kernels/dropout-mask';
import { loraLinearBackwardRef, loraLinearForwardRef } from '../src/kernels/reference/lora-linear';
import { matmulAtB, matmulDyW, matmulXWt } from '../src/kernels/reference/matmul';
import { loraScaling } from '../src/peft/lora-scaling';
import { randomUniform } from '../src/util/random';
import { numericGrad } from './helpers/finite-difference';

const M = 3;
const K = 5;
const N = 4;
const r = 2;

function problem(seedBase: number) {
  return {
    x: Float64Array.from(randomUniform(M * K, seedBase + 1)),
    w: Float64Array.from(randomUniform(N * K, seedBase + 2)),
    bias: Float64Array.from(randomUniform(N, seedBase + 3)),
    a: Float64Array.from(randomUniform(r * K, seedBase + 4)),
    b: Float64Array.from(randomUniform(N * r, seedBase + 5)),
    dy: Float64Array.from(randomUniform(M * N, seedBase + 6)),
  };
}

/** L = Σ dy ⊙ y, so dL/dy = dy. */
function loss(
  dy: Float64Array,
  args: { x: Float64Array; w: Float64Array; bias: Float64Array | null; a: Float64Array; b: Float64Array },
  scale: number,
  dropoutP: number,
  seed: number,
): number {
  const { y } = loraLinearForwardRef({ ...args, M, K, N, r, scale, dropoutP, seed });
  let s = 0;
  for (let i = 0; i < y.length; i++) s += dy[i] * y[i];
  return s;
}

function expectClose(name: string, got: Float64Array, want: Float64Array, rel = 1e-6): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const tol = rel * Math.max(1, Math.abs(want[i]));
    if (!(Math.abs(got[i] - want[i]) <= tol)) throw new Error(`${name}[${i}]: ${got[i]} vs ${want[i]} (tol ${tol})`);
  }
}

describe('loraLinearBackwardRef', () => {
  const cases = [
    { label: 'no dropout', dropoutP: 0, seed: 0, scale: loraScaling(16, r) },
    { label: 'dropout 0.3', dropoutP: 0.3, seed: 1234, scale: loraScaling(16, r) },
    { label: 'dropout 0.3, rsLoRA', dropoutP: 0.3, seed: 99, scale: loraScaling(8, r, true) },
  ];
  for (const c of cases) {
    it(`matches central differences for x, A and B (${c.label}, with bias)`, () => {
      const p = problem(c.seed * 10 + 1);
      const args = { x: p.x, w: p.w, bias: p.bias, a: p.a, b: p.b };
      const f = () => loss(p.dy, args, c.scale, c.dropoutP, c.seed);
      const { dx, dA, dB } = loraLinearBackwardRef({
        dy: p.dy, x: p.x, M, K, N, w: p.w, a: p.a, b: p.b, r, scale: c.scale, dropoutP: c.dropoutP, seed: c.seed,
      });
      expectClose('dx', dx, numericGrad(p.x, f));
      expectClose('dA', dA, numericGrad(p.a, f));
      expectClose('dB', dB, numericGrad(p.b, f));
    });
  }

  it('dropout actually drops something at this shape and seed, and the LoRA part of dx is masked', () => {
    const seed = 1234;
    const p = problem(seed * 10 + 1);
    let dropped = 0;
    for (let i = 0; i < M * K; i++) if (dropoutFactor(seed, i, 0.3) === 0) dropped++;
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(M * K);
    const { dx } = loraLinearBackwardRef({ dy: p.dy, x: p.x, M, K, N, w: p.w, a: p.a, b: p.b, r, scale: 2, dropoutP: 0.3, seed });
    const base = matmulDyW(p.dy, M, N, p.w, K); // dy·W: the frozen path only
    for (let i = 0; i < M * K; i++) {
      if (dropoutFactor(seed, i, 0.3) === 0) expect(dx[i]).toBe(base[i]);
      else expect(Math.abs(dx[i] - base[i])).toBeGreaterThan(1e-9);
    }
  });

  it('validates lengths with named errors', () => {
    const p = problem(5);
    const base = { dy: p.dy, x: p.x, M, K, N, w: p.w, a: p.a, b: p.b, r, scale: 1, dropoutP: 0, seed: 0 };
    expect(() => loraLinearBackwardRef({ ...base, dy: new Float64Array(11) })).toThrow(
      'loraLinearBackwardRef: dy has 11 elements, expected M·N = 3·4 = 12',
    );
    expect(() => loraLinearBackwardRef({ ...base, a: new Float64Array(9) })).toThrow(
      'loraLinearBackwardRef: a (lora_A) has 9 elements, expected r·K = 2·5 = 10',
    );
    expect(() => loraLinearBackwardRef({ ...base, dropoutP: 1 })).toThrow(/lora_dropout/);
  });
});

describe('loraLinearForwardRef', () => {
  it('matches a naive triple loop (dropout 0.3, rsLoRA scaling, bias)', () => {
    const p = problem(77);
    const seed = 4242;
    const dropoutP = 0.3;
    const scale = loraScaling(32, r, true); // 32/√2
    expect(scale).toBeCloseTo(22.627416997969522, 12);
    const { y, xa, xDrop } = loraLinearForwardRef({ x: p.x, M, K, N, w: p.w, bias: p.bias, a: p.a, b: p.b, r, scale, dropoutP, seed });
    for (let m = 0; m < M; m++) {
      const xd: number[] = [];
      for (let k = 0; k < K; k++) {
        const kept = dropoutFactor(seed, m * K + k, dropoutP);
        xd.push(p.x[m * K + k] * kept);
        expect(xDrop[m * K + k]).toBe(xd[k]);
      }
      const h: number[] = [];
      for (let j = 0; j < r; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += xd[k] * p.a[j * K + k];
        h.push(s);
        expect(xa[m * r + j]).toBeCloseTo(s, 12);
      }
      for (let n = 0; n < N; n++) {
        let base = p.bias[n];
        for (let k = 0; k < K; k++) base += p.x[m * K + k] * p.w[n * K + k];
        let lora = 0;
        for (let j = 0; j < r; j++) lora += h[j] * p.b[n * r + j];
        expect(y[m * N + n]).toBeCloseTo(base + scale * lora, 12);
      }
    }
  });

  it('without bias and with B = 0 equals x·Wᵀ (LoRA starts as a no-op)', () => {
    const p = problem(3);
    const { y } = loraLinearForwardRef({
      x: p.x, M, K, N, w: p.w, bias: null, a: p.a, b: new Float64Array(N * r), r, scale: 4, dropoutP: 0.5, seed: 1,
    });
    expect(Array.from(y)).toEqual(Array.from(matmulXWt(p.x, M, K, p.w, N)));
  });

  it('rejects a bias of the wrong length', () => {
    const p = problem(3);
    expect(() =>
      loraLinearForwardRef({ x: p.x, M, K, N, w: p.w, bias: new Float64Array(3), a: p.a, b: p.b, r, scale: 1, dropoutP: 0, seed: 0 }),
    ).toThrow('loraLinearForwardRef: bias has 3 elements, expected N = 4');
  });
});

describe('reference matmuls', () => {
  // x [2,3], w [2,3]; worked by hand.
  const x = [1, 2, 3, 4, 5, 6];
  const w = [1, 0, -1, 2, 1, 0];
  it('matmulXWt', () => {
    // row 0: [1−3, 2+2] = [−2, 4]; row 1: [4−6, 8+5] = [−2, 13]
    expect(Array.from(matmulXWt(x, 2, 3, w, 2))).toEqual([-2, 4, -2, 13]);
  });
  it('matmulDyW', () => {
    // dy [2,2] = [[1,2],[3,4]] · w [2,3] = [[5,2,−1],[11,4,−3]]
    expect(Array.from(matmulDyW([1, 2, 3, 4], 2, 2, w, 3))).toEqual([5, 2, -1, 11, 4, -3]);
  });
  it('matmulAtB', () => {
    // a [2,2] = [[1,2],[3,4]]ᵀ · b [2,3] = x → [[1+12, 2+15, 3+18], [2+16, 4+20, 6+24]]
    expect(Array.from(matmulAtB([1, 2, 3, 4], 2, 2, x, 3))).toEqual([13, 17, 21, 18, 24, 30]);
  });
  it('names the tensor in length errors', () => {
    expect(() => matmulXWt(x, 2, 3, [1, 2], 2)).toThrow('matmulXWt: w has 2 elements, expected N·K = 2·3 = 6');
    expect(() => matmulAtB(x, 2, 3, x, 2)).toThrow('matmulAtB: b has 6 elements, expected M·Q = 2·2 = 4');
  });
});
