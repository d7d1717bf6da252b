/**
 * AdamW and the squared gradient norms on the GPU against their float64 references, on ragged sizes, and the
 * host side of global-norm clipping. The AdamW reference is itself checked against a first step worked out by
 * hand (m̂ = g, v̂ = g² at step 1).
 */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/errors';
import { CommandRecorder } from '../src/kernels/dispatch';
import { clipFactor, encodeAdamW, encodeSquaredNorms, isFiniteNorm, squaredNormPartials } from '../src/kernels/optimizer';
import { adamWStepRef, squaredNormsRef, type AdamWHyper } from '../src/kernels/reference/optimizer';
import { readTensor, tensorFrom, zerosTensor, type GpuTensor } from '../src/kernels/tensor';
import { randomNormal, randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { KERNEL_PROFILES, useGpu, withKernelProfile } from './helpers/gpu';

const ctx = useGpu();

describe('adamWStepRef', () => {
  it('matches a first step worked out by hand: p·(1 − lr·wd) − lr·g/(|g| + eps)', () => {
    // g = 0.5·(−0.2) = −0.1; m̂ = g, v̂ = g²; p = 0.5·(1 − 0.01·0.1) + 0.01·0.1/(0.1 + 1e-8)
    const h: AdamWHyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 1, gradScale: 0.5 };
    const r = adamWStepRef({ param: [0.5, -2, 1], m: [0, 0, 0], v: [0, 0, 0] }, [-0.2, 4, 0], h);
    expect(r.param[0]).toBeCloseTo(0.4995 + 0.001 / 0.10000001, 14);
    expect(r.param[1]).toBeCloseTo(-2 * 0.999 - 0.01 * 2 / (2 + 1e-8), 14);
    expect(r.param[2]).toBeCloseTo(0.999, 14); // zero gradient: weight decay only
    expect(r.m[0]).toBeCloseTo(0.1 * -0.1, 15);
    expect(r.v[0]).toBeCloseTo(0.001 * 0.01, 15);
    // Step 2 from that state, with g = 0.5·0.4 = 0.2: m = 0.9·(−0.01) + 0.1·0.2 = 0.011, v = 0.999·1e-5 + 0.001·0.04,
    // bc1 = 0.19, bc2 = 1 − 0.999² = 0.001999.
    const r2 = adamWStepRef({ param: r.param, m: r.m, v: r.v }, [0.4, 0, 0], { ...h, step: 2 });
    const v2 = 0.999 * 1e-5 + 0.001 * 0.04;
    const p2 = r.param[0] * 0.999 - (0.01 / 0.19) * 0.011 / (Math.sqrt(v2) / Math.sqrt(0.001999) + 1e-8);
    expect(r2.m[0]).toBeCloseTo(0.011, 15);
    expect(r2.param[0]).toBeCloseTo(p2, 14);
  });
});

describe('adamw kernel', () => {
  it('matches the float64 reference over 5 steps on [37, 5] and [301], with weight decay, gradScale and a large eps', async () => {
    const d = ctx.gpu.device;
    const shapes = [[37, 5], [301]];
    const hyper = { beta1: 0.9, beta2: 0.999, weightDecay: 0.3 };
    // A large eps on the second tensor, where its place (after the bias correction of √v) shows.
    const epss = [1e-8, 1e-2];
    const lrs = [1e-2, 2e-2, 5e-3, 1e-2, 3e-2];
    const scales = [1, 0.7, 0.25, 1, 0.9];
    const params = shapes.map((shape, t) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const init = randomUniform(n, 100 + t);
      const ref: { param: ArrayLike<number>; m: ArrayLike<number>; v: ArrayLike<number> } = {
        param: Float64Array.from(init), m: new Float64Array(n), v: new Float64Array(n),
      };
      return {
        n,
        ref,
        gpu: {
          param: tensorFrom(d, init, shape, `param${t}`),
          m: zerosTensor(d, shape, `m${t}`),
          v: zerosTensor(d, shape, `v${t}`),
        },
        shape,
      };
    });
    for (let step = 1; step <= lrs.length; step++) {
      const h = { ...hyper, lr: lrs[step - 1], step, gradScale: scales[step - 1] };
      const rec = new CommandRecorder(ctx.gpu);
      for (const [t, p] of params.entries()) {
        const g = randomNormal(p.n, 1000 * step + t, 0.5);
        g[3] = 0; // a zero gradient: the update is 0/(0 + eps) at step 1
        const ht = { ...h, eps: epss[t] };
        encodeAdamW(rec, { ...ht, param: p.gpu.param, grad: tensorFrom(d, g, p.shape, `grad${t}`), m: p.gpu.m, v: p.gpu.v });
        p.ref = adamWStepRef(p.ref, g, ht);
      }
      rec.submit();
      for (const [t, p] of params.entries()) {
        const what = `tensor ${t} after step ${step}`;
        expectClose(`param, ${what}`, await readTensor(d, p.gpu.param), p.ref.param, { atol: 1e-6, rtol: 4e-6 });
        // m cancels (β1·m + (1 − β1)·g with opposite signs): an absolute bound of a few f32 ulps of |m| ≈ 0.1.
        expectClose(`m, ${what}`, await readTensor(d, p.gpu.m), p.ref.m, { atol: 5e-8, rtol: 2e-6 });
        expectClose(`v, ${what}`, await readTensor(d, p.gpu.v), p.ref.v, { atol: 1e-12, rtol: 2e-6 });
      }
    }
  });

  it('rejects bad hyper-parameters, mismatched shapes and aliased buffers', () => {
    const d = ctx.gpu.device;
    const t = (shape: number[], name: string): GpuTensor => zerosTensor(d, shape, name);
    const args = {
      param: t([4, 3], 'p'), grad: t([4, 3], 'g'), m: t([4, 3], 'm'), v: t([4, 3], 'v'),
      lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1,
    };
    const rec = new CommandRecorder(ctx.gpu);
    expect(() => encodeAdamW(rec, { ...args, lr: -1 })).toThrow(/adamw: lr must be/);
    expect(() => encodeAdamW(rec, { ...args, beta1: 1 })).toThrow(/beta1 must be in \[0, 1\)/);
    expect(() => encodeAdamW(rec, { ...args, beta2: -0.1 })).toThrow(/beta2/);
    expect(() => encodeAdamW(rec, { ...args, eps: NaN })).toThrow(/eps/);
    expect(() => encodeAdamW(rec, { ...args, weightDecay: -0.01 })).toThrow(/weightDecay/);
    expect(() => encodeAdamW(rec, { ...args, step: 0 })).toThrow(/step must be an integer ≥ 1/);
    expect(() => encodeAdamW(rec, { ...args, step: 1.5 })).toThrow(/step/);
    expect(() => encodeAdamW(rec, { ...args, gradScale: Infinity })).toThrow(/gradScale/);
    expect(() => encodeAdamW(rec, { ...args, v: t([3, 4], 'v2') })).toThrow(ShapeError);
    expect(() => encodeAdamW(rec, { ...args, v: t([3, 4], 'v2') })).toThrow(/"v2" \(v\) has shape \[3, 4\]/);
    expect(() => encodeAdamW(rec, { ...args, m: args.v })).toThrow(/m "m".*share|m "v" and v "v" share one buffer/);
    rec.submit();
  });
});

describe.each(KERNEL_PROFILES)('squared_norm kernel, %s', (profile) => {
  withKernelProfile(ctx, profile);
  it('Σ x² of each tensor, including tensors split over several workgroups (tiled) or summed by one thread (direct)', async () => {
    const d = ctx.gpu.device;
    const shapes = [[37, 5], [301], [1], [5000], [70_001], [300_003], [17, 3]];
    // 256 threads of at least 64 elements each per workgroup (few barriers: they are what costs on CPU adapters),
    // at most 256 partial sums.
    expect(squaredNormPartials(185)).toBe(1);
    expect(squaredNormPartials(16_384)).toBe(1);
    expect(squaredNormPartials(16_385)).toBe(2);
    expect(squaredNormPartials(70_001)).toBe(5);
    expect(squaredNormPartials(300_003)).toBe(19);
    expect(squaredNormPartials(5_000_000)).toBe(256);
    const hosts = shapes.map((s, i) => randomUniform(s.reduce((a, b) => a * b, 1), 200 + i, -3, 3));
    const tensors = hosts.map((h, i) => tensorFrom(d, h, shapes[i], `g${i}`));
    const out = zerosTensor(d, [shapes.length], 'norms');
    const rec = new CommandRecorder(ctx.gpu);
    encodeSquaredNorms(rec, { tensors, out });
    rec.submit();
    expectClose('squared norms', await readTensor(d, out), squaredNormsRef(hosts), { atol: 0, rtol: 1e-5 });

    // One small tensor alone (a single partial sum), and a shape error naming the tensor.
    const one = zerosTensor(d, [1], 'norm');
    const rec2 = new CommandRecorder(ctx.gpu);
    encodeSquaredNorms(rec2, { tensors: [tensors[1]], out: one });
    expect(() => encodeSquaredNorms(rec2, { tensors, out: one })).toThrow(/"norm" \(out\) has shape \[1\], expected \[tensors.length\] = \[7\]/);
    expect(() => encodeSquaredNorms(rec2, { tensors: [], out: one })).toThrow(ShapeError);
    rec2.submit();
    expectClose('squared norm of one tensor', await readTensor(d, one), squaredNormsRef([hosts[1]]), { atol: 0, rtol: 1e-5 });
  });
});

describe('clipFactor', () => {
  it('min(1, maxNorm/(norm + 1e-6)) of the global norm, as clip_grad_norm_', () => {
    expect(clipFactor([9, 16], 1)).toEqual({ norm: 5, factor: 1 / (5 + 1e-6) });
    expect(clipFactor([9, 16], 5).factor).toBe(5 / (5 + 1e-6)); // just below 1, as torch
    expect(clipFactor([9, 16], 10)).toEqual({ norm: 5, factor: 1 });
    expect(clipFactor([0, 0], 1)).toEqual({ norm: 0, factor: 1 });
  });

  it('maxNorm ≤ 0 or Infinity disables clipping but still reports the norm', () => {
    expect(clipFactor([9, 16], 0)).toEqual({ norm: 5, factor: 1 });
    expect(clipFactor([9, 16], -1)).toEqual({ norm: 5, factor: 1 });
    expect(clipFactor([9, 16], Infinity)).toEqual({ norm: 5, factor: 1 });
  });

  it('non-finite norms: torch\'s factor, and isFiniteNorm says to skip the step', () => {
    const inf = clipFactor([1, Infinity], 1);
    expect(inf.norm).toBe(Infinity);
    expect(inf.factor).toBe(0);
    expect(isFiniteNorm(inf.norm)).toBe(false);
    const nan = clipFactor([NaN, 1], 1);
    expect(Number.isNaN(nan.norm) && Number.isNaN(nan.factor)).toBe(true);
    expect(isFiniteNorm(nan.norm)).toBe(false);
    expect(isFiniteNorm(5)).toBe(true);
    expect(isFiniteNorm([1, 2, 3])).toBe(true);
    expect(isFiniteNorm(new Float32Array([1, Infinity]))).toBe(false);
  });

  it('rejects a NaN maxNorm and negative squared norms', () => {
    expect(() => clipFactor([1], NaN)).toThrow(/maxNorm/);
    expect(() => clipFactor([1, -2], 1)).toThrow(/squared norm 1 is negative/);
  });
});
