/**
 * LayerNorm and RMSNorm kernels against their float64 references, forward and backward (with accumulate), under
 * both kernel profiles: one workgroup per row ('tiled') and one thread per row, 64 rows to a workgroup ('direct').
 */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/errors';
import { CommandRecorder } from '../src/kernels/dispatch';
import { encodeLayerNorm, encodeLayerNormBackward, encodeRmsNorm, encodeRmsNormBackward } from '../src/kernels/norms';
import { layerNormBackwardRef, layerNormRef, rmsNormBackwardRef, rmsNormRef } from '../src/kernels/reference/norms';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { KERNEL_PROFILES, useGpu, withKernelProfile } from './helpers/gpu';

const ctx = useGpu();
const TOL = { atol: 1e-5, rtol: 1e-4 };
// Ragged: d is not a multiple of the 128-wide workgroup (nor of 4) and spans more than one stride at d 301;
// M fills neither one workgroup of 64 rows (37) nor two (70).
const cases = [37, 70].flatMap((M) => [70, 301].map((d) => ({ M, d })));
const eps = 1e-5;

/** Rows with an offset and scale, so that mean subtraction matters. */
function input(n: number, seed: number): Float32Array {
  const x = randomUniform(n, seed, -2, 2);
  for (let i = 0; i < n; i++) x[i] = x[i] + 3;
  return x;
}

/** The entry points of the pipelines `encode` asks for, so that a test sees which kernel shape it checked. */
function entryPoints(encode: () => void): string[] {
  const keys: string[] = [];
  const stop = ctx.gpu.pipelines.observe((use) => keys.push(use.key));
  try {
    encode();
  } finally {
    stop();
  }
  return keys.map((k) => k.split('|')[1]);
}

describe.each(KERNEL_PROFILES)('%s kernels', (kernels) => {
  withKernelProfile(ctx, kernels);
  const suffix = kernels === 'direct' ? '_rows' : '';

  describe('layer_norm', () => {
    for (const { M, d } of cases) {
      it(`forward (y, stats) and backward (dx, accumulated) at M ${M}, d ${d}`, async () => {
        const dev = ctx.gpu.device;
        const xh = input(M * d, 1);
        const wh = randomUniform(d, 2, 0.5, 1.5);
        const bh = randomUniform(d, 3);
        const dyh = randomUniform(M * d, 4);
        const prior = randomUniform(M * d, 5);
        const x = tensorFrom(dev, xh, [M, d], 'x');
        const weight = tensorFrom(dev, wh, [d], 'ln.weight');
        const y = zerosTensor(dev, [M, d], 'y');
        const stats = zerosTensor(dev, [M, 2], 'stats');
        const dx = zerosTensor(dev, [M, d], 'dx');
        const dxAcc = tensorFrom(dev, prior, [M, d], 'dx (residual)');
        const dy = tensorFrom(dev, dyh, [M, d], 'dy');
        const rec = new CommandRecorder(ctx.gpu);
        const used = entryPoints(() => {
          encodeLayerNorm(rec, { x, weight, bias: tensorFrom(dev, bh, [d], 'ln.bias'), eps, y, stats });
          encodeLayerNormBackward(rec, { dy, x, weight, stats, dx });
          encodeLayerNormBackward(rec, { dy, x, weight, stats, dx: dxAcc, accumulate: true });
        });
        rec.submit();
        expect(used).toEqual([`forward${suffix}`, `backward${suffix}`, `backward${suffix}`]);
        const ref = layerNormRef({ x: xh, M, d, weight: wh, bias: bh, eps });
        expectClose('y', await readTensor(dev, y), ref.y, TOL);
        const st = await readTensor(dev, stats);
        expectClose('mean', st.filter((_, i) => i % 2 === 0), ref.mean, TOL);
        expectClose('rstd', st.filter((_, i) => i % 2 === 1), ref.rstd, TOL);
        const dxRef = layerNormBackwardRef({ x: xh, M, d, weight: wh, eps, dy: dyh });
        expectClose('dx', await readTensor(dev, dx), dxRef, TOL);
        expectClose('dx accumulated', await readTensor(dev, dxAcc), dxRef.map((v, i) => v + prior[i]), TOL);
      });
    }
  });

  describe('rms_norm', () => {
    for (const { M, d } of cases) {
      it(`forward (y, rstd) and backward (dx, accumulated) at M ${M}, d ${d}`, async () => {
        const dev = ctx.gpu.device;
        const xh = input(M * d, 11);
        const wh = randomUniform(d, 12, 0.5, 1.5);
        const dyh = randomUniform(M * d, 13);
        const prior = randomUniform(M * d, 14);
        const x = tensorFrom(dev, xh, [M, d], 'x');
        const weight = tensorFrom(dev, wh, [d], 'norm.weight');
        const y = zerosTensor(dev, [M, d], 'y');
        const rstd = zerosTensor(dev, [M], 'rstd');
        const dx = zerosTensor(dev, [M, d], 'dx');
        const dxAcc = tensorFrom(dev, prior, [M, d], 'dx (residual)');
        const dy = tensorFrom(dev, dyh, [M, d], 'dy');
        const rec = new CommandRecorder(ctx.gpu);
        const used = entryPoints(() => {
          encodeRmsNorm(rec, { x, weight, eps: 1e-6, y, rstd });
          encodeRmsNormBackward(rec, { dy, x, weight, rstd, dx });
          encodeRmsNormBackward(rec, { dy, x, weight, rstd, dx: dxAcc, accumulate: true });
        });
        rec.submit();
        expect(used).toEqual([`forward${suffix}`, `backward${suffix}`, `backward${suffix}`]);
        const ref = rmsNormRef({ x: xh, M, d, weight: wh, eps: 1e-6 });
        expectClose('y', await readTensor(dev, y), ref.y, TOL);
        expectClose('rstd', await readTensor(dev, rstd), ref.rstd, TOL);
        const dxRef = rmsNormBackwardRef({ x: xh, M, d, weight: wh, eps: 1e-6, dy: dyh });
        expectClose('dx', await readTensor(dev, dx), dxRef, TOL);
        expectClose('dx accumulated', await readTensor(dev, dxAcc), dxRef.map((v, i) => v + prior[i]), TOL);
      });
    }
  });
});

describe('norm input errors', () => {
  it('layer_norm names the tensor and both shapes on a mismatch, and refuses y aliasing x', () => {
    const dev = ctx.gpu.device;
    const x = zerosTensor(dev, [4, 6], 'x');
    const w = zerosTensor(dev, [6], 'w');
    const rec = new CommandRecorder(ctx.gpu);
    const stats = zerosTensor(dev, [4, 2], 's');
    const y = zerosTensor(dev, [4, 6], 'y');
    const bias = zerosTensor(dev, [5], 'ln.bias');
    expect(() => encodeLayerNorm(rec, { x, weight: w, bias, eps, y, stats })).toThrow(/"ln\.bias" \(bias\) has shape \[5\], expected \[d\] = \[6\]/);
    expect(() => encodeLayerNorm(rec, { x, weight: w, bias: w, eps, y: x, stats })).toThrow(ShapeError);
  });

  it('rms_norm checks the rstd shape', () => {
    const dev = ctx.gpu.device;
    const x = zerosTensor(dev, [4, 6], 'x');
    const rec = new CommandRecorder(ctx.gpu);
    expect(() =>
      encodeRmsNorm(rec, { x, weight: zerosTensor(dev, [6], 'w'), eps, y: zerosTensor(dev, [4, 6], 'y'), rstd: zerosTensor(dev, [4, 2], 'rstd') }),
    ).toThrow(/"rstd" \(rstd\) has shape \[4, 2\], expected \[M\] = \[4\]/);
  });
});
