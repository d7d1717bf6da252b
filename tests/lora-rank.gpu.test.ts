/**
 * The rank-r LoRA kernels on their own: xa and g (lora_down), and dA/dB (lora_weight_grad) through both the
 * direct path and the split reduction (partial sums + reduce_partials), with gradient accumulation, for both
 * kernel profiles: one output per thread ('tiled') and blocks of 4 × 4·rq per thread ('direct', ragged at M, K, N and
 * r), at ranks that give the blocked kernels 1, 2 and 4 rank quads per thread (r = 21: two blocks of 16 ranks, the
 * second ragged).
 */
import { describe, it } from 'vitest';
import { CommandRecorder } from '../src/kernels/dispatch';
import { encodeLoraG, encodeLoraGradA, encodeLoraGradB, encodeLoraXa, rankQuads, reductionSplits } from '../src/kernels/lora-rank';
import { dropoutFactors } from '../src/kernels/reference/lora-linear';
import { matmulAtB, matmulDyW, matmulXWt } from '../src/kernels/reference/matmul';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';
import { expect } from 'vitest';

const ctx = useGpu();
const TOL = { atol: 2e-5, rtol: 2e-4 };
const M = 83;
const K = 45;
const N = 38;
const dropout = { p: 0.3, seed: 77 };

for (const profile of ['tiled', 'direct'] as const) {
for (const r of [3, 6, 21]) {
describe(`lora_down (${profile} profile, r=${r})`, () => {
  it('xa = dropout(x)·Aᵀ and g = dy·B', async () => {
    ctx.gpu.kernels = profile;
    const d = ctx.gpu.device;
    const xHost = randomUniform(M * K, 1);
    const aHost = randomUniform(r * K, 2);
    const dyHost = randomUniform(M * N, 3);
    const bHost = randomUniform(N * r, 4);
    const xa = zerosTensor(d, [M, r], 'xa');
    const g = zerosTensor(d, [M, r], 'g');
    const rec = new CommandRecorder(ctx.gpu);
    encodeLoraXa(rec, { x: tensorFrom(d, xHost, [M, K], 'x'), a: tensorFrom(d, aHost, [r, K], 'A'), xa, dropout });
    encodeLoraG(rec, { dy: tensorFrom(d, dyHost, [M, N], 'dy'), b: tensorFrom(d, bHost, [N, r], 'B'), g });
    rec.submit();
    const mask = dropoutFactors(M, K, dropout.p, dropout.seed);
    const xDrop = Array.from(xHost, (v, i) => v * mask[i]);
    expectClose('xa', await readTensor(d, xa), matmulXWt(xDrop, M, K, aHost, r), TOL);
    // g = dy·B: B is [N, r], i.e. "W" [N, K=r] in dy·W form.
    expectClose('g', await readTensor(d, g), matmulDyW(dyHost, M, N, bHost, r), TOL);
  });
});

describe(`lora_weight_grad (${profile} profile, r=${r})`, () => {
  for (const splits of [1, 4, 7]) {
    it(`dA and dB with ${splits} split(s), accumulating into existing gradients`, async () => {
      ctx.gpu.kernels = profile;
      const d = ctx.gpu.device;
      const gHost = randomUniform(M * r, 10);
      const xHost = randomUniform(M * K, 11);
      const dyHost = randomUniform(M * N, 12);
      const xaHost = randomUniform(M * r, 13);
      const dAPrior = randomUniform(r * K, 14);
      const dBPrior = randomUniform(N * r, 15);
      const dA = tensorFrom(d, dAPrior, [r, K], 'dA');
      const dB = tensorFrom(d, dBPrior, [N, r], 'dB');
      const scale = 1.75;
      const rec = new CommandRecorder(ctx.gpu);
      encodeLoraGradA(rec, { g: tensorFrom(d, gHost, [M, r], 'g'), x: tensorFrom(d, xHost, [M, K], 'x'), dA, scale, dropout, accumulate: true, splits });
      encodeLoraGradB(rec, { dy: tensorFrom(d, dyHost, [M, N], 'dy'), xa: tensorFrom(d, xaHost, [M, r], 'xa'), dB, scale, accumulate: true, splits });
      rec.submit();
      const mask = dropoutFactors(M, K, dropout.p, dropout.seed);
      const xDrop = Array.from(xHost, (v, i) => v * mask[i]);
      const refA = matmulAtB(gHost, M, r, xDrop, K).map((v, i) => dAPrior[i] + scale * v);
      const refB = matmulAtB(dyHost, M, N, xaHost, r).map((v, i) => dBPrior[i] + scale * v);
      expectClose('dA', await readTensor(d, dA), refA, TOL);
      expectClose('dB', await readTensor(d, dB), refB, TOL);
    });
  }

});
}
}

describe('rankQuads', () => {
  it('gives a blocked thread the whole rank up to 16, in blocks of 4', () => {
    expect([1, 3, 4, 5, 8, 9, 16, 17, 64].map(rankQuads)).toEqual([1, 1, 1, 2, 2, 3, 4, 4, 4]);
  });
});

describe('reductionSplits', () => {
  it('splits long token ranges when there are few outputs, never below 16 tokens a chunk', () => {
    expect(reductionSplits(4096, 8 * 64)).toBeGreaterThan(1);
    expect(reductionSplits(4096, 1_000_000)).toBe(1);
    expect(reductionSplits(20, 4)).toBe(1);
    expect(Math.ceil(4096 / reductionSplits(4096, 1))).toBeGreaterThanOrEqual(16);
    // A CPU driver splits less: a thousand outputs keep its cores busy.
    expect(reductionSplits(4096, 8 * 256, 'direct')).toBe(1);
    expect(reductionSplits(4096, 8 * 64, 'direct')).toBeLessThan(reductionSplits(4096, 8 * 64, 'tiled'));
  });
});
