/** SwiGLU and the pointwise kernels (relu, tanh, swish, gelu, gelu_new) against their float64 references, including large |x| (no NaN from tanh/exp). */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/errors';
import {
  encodeActivation,
  encodeActivationBackward,
  encodeSwiglu,
  encodeSwigluBackward,
  type PointwiseActivation,
} from '../src/kernels/activations';
import { CommandRecorder } from '../src/kernels/dispatch';
import { pointwiseBackwardRef, pointwiseRef, swigluBackwardRef, swigluRef } from '../src/kernels/reference/activations';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const TOL = { atol: 2e-6, rtol: 2e-5 };
const M = 37;
const F = 70;
const EXTREMES = [-1000, -100, -30, -12, -5, -1e-3, 0, 1e-3, 5, 12, 30, 100, 1000];

/** Uniform in [−6, 6) with extreme values planted at the start. */
function input(seed: number): Float32Array {
  const x = randomUniform(M * F, seed, -6, 6);
  x.set(EXTREMES);
  return x;
}

describe('swiglu', () => {
  it('forward and backward', async () => {
    const dev = ctx.gpu.device;
    const gh = input(3);
    const uh = randomUniform(M * F, 4, -2, 2);
    const dhh = randomUniform(M * F, 5);
    const gate = tensorFrom(dev, gh, [M, F], 'gate');
    const up = tensorFrom(dev, uh, [M, F], 'up');
    const h = zerosTensor(dev, [M, F], 'h');
    const dGate = zerosTensor(dev, [M, F], 'dGate');
    const dUp = zerosTensor(dev, [M, F], 'dUp');
    const rec = new CommandRecorder(ctx.gpu);
    encodeSwiglu(rec, { gate, up, h });
    encodeSwigluBackward(rec, { dh: tensorFrom(dev, dhh, [M, F], 'dh'), gate, up, dGate, dUp });
    rec.submit();
    expectClose('h', await readTensor(dev, h), swigluRef(gh, uh), TOL);
    const ref = swigluBackwardRef(dhh, gh, uh);
    expectClose('dGate', await readTensor(dev, dGate), ref.dGate, TOL);
    expectClose('dUp', await readTensor(dev, dUp), ref.dUp, TOL);
  });
});

describe('pointwise activations', () => {
  // Ragged: 23·13 = 299 elements, not a multiple of the 64-thread workgroup.
  const [R, C] = [23, 13];

  it.each(['relu', 'tanh', 'swish', 'gelu', 'gelu_new'] as const)('%s: forward, backward from x, and backward added to what dx holds', async (fn) => {
    const dev = ctx.gpu.device;
    const xh = randomUniform(R * C, 6, -6, 6);
    xh.set(EXTREMES);
    const dyh = randomUniform(R * C, 7);
    const prior = randomUniform(R * C, 8);
    const x = tensorFrom(dev, xh, [R, C], 'x');
    const y = zerosTensor(dev, [R, C], 'y');
    const dy = tensorFrom(dev, dyh, [R, C], 'dy');
    const dx = zerosTensor(dev, [R, C], 'dx');
    const dxAcc = tensorFrom(dev, prior, [R, C], 'dx (accumulated)');
    const rec = new CommandRecorder(ctx.gpu);
    encodeActivation(rec, { fn, x, y });
    encodeActivationBackward(rec, { fn, x, dy, dx });
    encodeActivationBackward(rec, { fn, x, dy, dx: dxAcc, accumulate: true });
    rec.submit();
    const dxRef = pointwiseBackwardRef(fn, dyh, xh);
    expectClose(`${fn}(x)`, await readTensor(dev, y), pointwiseRef(fn, xh), TOL);
    expectClose('dx', await readTensor(dev, dx), dxRef, TOL);
    expectClose('prior + dx', await readTensor(dev, dxAcc), dxRef.map((v, i) => v + prior[i]), TOL);
  });

  it('refuses an unknown activation, in-place use and mismatched shapes', () => {
    const dev = ctx.gpu.device;
    const x = zerosTensor(dev, [3, 4], 'x');
    const rec = new CommandRecorder(ctx.gpu);
    expect(() => encodeActivation(rec, { fn: 'sigmoid' as PointwiseActivation, x, y: zerosTensor(dev, [3, 4], 'y') })).toThrow(
      /unknown activation "sigmoid", expected one of relu, tanh, swish, gelu, gelu_new/,
    );
    expect(() => encodeActivation(rec, { fn: 'gelu_new', x, y: x })).toThrow(ShapeError);
    expect(() => encodeActivationBackward(rec, { fn: 'tanh', x, dy: zerosTensor(dev, [3, 4], 'dy'), dx: x })).toThrow(ShapeError);
    expect(() => encodeActivationBackward(rec, { fn: 'relu', x, dy: zerosTensor(dev, [4, 3], 'dy'), dx: zerosTensor(dev, [3, 4], 'dx') })).toThrow(
      /"dy" \(dy\) has shape \[4, 3\], expected \[3, 4\]/,
    );
  });
});
