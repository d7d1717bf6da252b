/** gelu_new and SwiGLU kernels against their float64 references, including large |x| (no NaN from tanh/exp). */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/errors';
import { encodeGelu, encodeGeluBackward, encodeSwiglu, encodeSwigluBackward } from '../src/kernels/activations';
import { CommandRecorder } from '../src/kernels/dispatch';
import { geluBackwardRef, geluRef, swigluBackwardRef, swigluRef } from '../src/kernels/reference/activations';
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

describe('gelu_new', () => {
  it('forward and backward', async () => {
    const dev = ctx.gpu.device;
    const xh = input(1);
    const dyh = randomUniform(M * F, 2);
    const x = tensorFrom(dev, xh, [M, F], 'x');
    const y = zerosTensor(dev, [M, F], 'y');
    const dx = zerosTensor(dev, [M, F], 'dx');
    const rec = new CommandRecorder(ctx.gpu);
    encodeGelu(rec, { x, y });
    encodeGeluBackward(rec, { dy: tensorFrom(dev, dyh, [M, F], 'dy'), x, dx });
    rec.submit();
    expectClose('gelu(x)', await readTensor(dev, y), geluRef(xh), TOL);
    expectClose('dx', await readTensor(dev, dx), geluBackwardRef(dyh, xh), TOL);
  });

  it('refuses in-place use and mismatched shapes', () => {
    const dev = ctx.gpu.device;
    const x = zerosTensor(dev, [3, 4], 'x');
    const rec = new CommandRecorder(ctx.gpu);
    expect(() => encodeGelu(rec, { x, y: x })).toThrow(ShapeError);
    expect(() => encodeGelu(rec, { x, y: zerosTensor(dev, [4, 3], 'y') })).toThrow(/"y" \(y\) has shape \[4, 3\], expected \[3, 4\]/);
  });
});

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
