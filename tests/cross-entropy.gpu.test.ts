/**
 * Fused softmax cross-entropy + gradient against the float64 reference: ignored rows, in place, large V and
 * logits, under both kernel profiles: one workgroup per row ('tiled') and one thread per row, 64 rows to a
 * workgroup ('direct').
 */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/errors';
import { checkTargets, countTargets, encodeCrossEntropy, IGNORE_INDEX } from '../src/kernels/cross-entropy';
import { CommandRecorder } from '../src/kernels/dispatch';
import { indexTensorFrom } from '../src/kernels/index-tensor';
import { crossEntropyRef } from '../src/kernels/reference/cross-entropy';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { mulberry32, randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { KERNEL_PROFILES, useGpu, withKernelProfile } from './helpers/gpu';

const ctx = useGpu();
const LOSS_TOL = { atol: 2e-5, rtol: 1e-5 };
const GRAD_TOL = { atol: 1e-8, rtol: 1e-4 };

function randomTargets(M: number, V: number, seed: number, ignoreEvery: number): Int32Array {
  const next = mulberry32(seed);
  return Int32Array.from({ length: M }, (_, m) => (m % ignoreEvery === ignoreEvery - 1 ? IGNORE_INDEX : Math.floor(next() * V)));
}

async function run(M: number, V: number, logitsH: Float32Array, targetsH: Int32Array, inPlace: boolean) {
  const dev = ctx.gpu.device;
  checkTargets(targetsH, V, 'targets');
  const invCount = 1 / countTargets(targetsH);
  const logits = tensorFrom(dev, logitsH, [M, V], 'logits');
  const dLogits = inPlace ? logits : zerosTensor(dev, [M, V], 'dLogits');
  const rowLoss = zerosTensor(dev, [M], 'rowLoss');
  const rec = new CommandRecorder(ctx.gpu);
  const keys: string[] = [];
  const stop = ctx.gpu.pipelines.observe((use) => keys.push(use.key));
  try {
    encodeCrossEntropy(rec, { logits, targets: indexTensorFrom(dev, targetsH, 'targets'), invCount, rowLoss, dLogits });
  } finally {
    stop();
  }
  rec.submit();
  // The entry point (second field of the pipeline key) shows which shape of the kernel the profile chose.
  expect(keys.map((k) => k.split('|')[1])).toEqual([ctx.gpu.kernels === 'direct' ? 'main_rows' : 'main']);
  const ref = crossEntropyRef({ logits: logitsH, M, V, targets: targetsH, invCount });
  expectClose('rowLoss', await readTensor(dev, rowLoss), ref.rowLoss, LOSS_TOL);
  expectClose(inPlace ? 'dLogits (in place)' : 'dLogits', await readTensor(dev, dLogits), ref.dLogits, GRAD_TOL);
  if (!inPlace) expectClose('logits untouched', await readTensor(dev, logits), logitsH, { atol: 0, rtol: 0 });
}

const V = 301;

describe.each(KERNEL_PROFILES)('%s kernels', (kernels) => {
  withKernelProfile(ctx, kernels);

  describe('cross_entropy', () => {
    // Ragged: M fills neither one workgroup of 64 rows (37) nor two (70); V is not a multiple of 4 or of the
    // 256-wide workgroup.
    for (const M of [37, 70]) {
      for (const inPlace of [false, true]) {
        it(`M ${M}, V ${V}, every 4th row ignored${inPlace ? ', gradient written over the logits' : ''}`, async () => {
          await run(M, V, randomUniform(M * V, 1, -4, 4), randomTargets(M, V, 2, 4), inPlace);
        });
      }
    }

    it('large logits (offset 1000, spread ±60) stay finite and exact', async () => {
      const M = 37;
      const x = randomUniform(M * V, 3, -60, 60);
      for (let i = 0; i < x.length; i++) x[i] += 1000;
      await run(M, V, x, randomTargets(M, V, 4, 5), false);
    });

    it('GPT-2 vocabulary size (V 50257), target at the first and last column', async () => {
      const V2 = 50257;
      const t = Int32Array.from([0, V2 - 1, IGNORE_INDEX, 12345]);
      await run(4, V2, randomUniform(4 * V2, 5, -8, 8), t, true);
    });
  });
});

describe('cross_entropy input errors', () => {
  it('checks targets on the host and shapes in the wrapper', () => {
    expect(() => checkTargets([3, -100, 301], V, 'targets')).toThrow(
      'targets: target 301 at index 2 (of 3) is neither -100 nor in [0, 301) (vocabulary size)',
    );
    expect(() => checkTargets([-1], V, 'targets')).toThrow(RangeError);
    expect(countTargets([1, -100, 2, -100])).toBe(2);
    const dev = ctx.gpu.device;
    const logits = zerosTensor(dev, [3, 5], 'logits');
    const targets = indexTensorFrom(dev, new Int32Array(3), 'targets');
    const rec = new CommandRecorder(ctx.gpu);
    expect(() => encodeCrossEntropy(rec, { logits, targets, invCount: 1, rowLoss: zerosTensor(dev, [3, 1], 'rowLoss'), dLogits: logits })).toThrow(
      /"rowLoss" \(rowLoss\) has shape \[3, 1\], expected \[M\] = \[3\]/,
    );
    expect(() => encodeCrossEntropy(rec, { logits, targets, invCount: 1, rowLoss: logits, dLogits: logits })).toThrow(ShapeError);
    const rowLoss = zerosTensor(dev, [3], 'rowLoss');
    expect(() => encodeCrossEntropy(rec, { logits, targets, invCount: NaN, rowLoss, dLogits: logits })).toThrow(RangeError);
  });
});
