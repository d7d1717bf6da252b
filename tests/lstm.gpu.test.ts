/**
 * The LSTM kernels against the float64 reference (reference/lstm.ts): one direction of one layer (recurrence plus
 * its matmuls) on ragged sizes in both directions, h = 1024 (several units per thread), gradient accumulation,
 * and a 2-layer bidirectional stack forward and backward with and without dropout (in both kernel profiles);
 * plus the workgroup-memory limit and the shape checks.
 */
import { describe, expect, it } from 'vitest';
import { GpuLimitError, ShapeError } from '../src/gpu/errors';
import { CommandRecorder } from '../src/kernels/dispatch';
import {
  checkLstmHidden,
  encodeLstmDirectionBackward,
  encodeLstmDirectionForward,
  encodeLstmRecurrence,
  maxLstmHidden,
  type LstmDirectionParams,
  type LstmDirectionSaved,
} from '../src/kernels/lstm';
import { encodeBiLstmBackward, encodeBiLstmForward, type BiLstmLayerParams } from '../src/kernels/lstm-stack';
import {
  biLstmBackwardRef,
  biLstmRef,
  lstmDirectionBackwardRef,
  lstmDirectionRef,
  type LstmGrads,
  type LstmWeights,
} from '../src/kernels/reference/lstm';
import type { Tolerance } from '../src/kernels/reference/tolerance';
import { readTensor, tensorFrom, zerosTensor, type GpuTensor } from '../src/kernels/tensor';
import { randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const TOL: Tolerance = { atol: 3e-5, rtol: 3e-4 };
const PARAMS = ['wIh', 'wHh', 'bIh', 'bHh'] as const;

interface HostWeights {
  wIh: Float32Array;
  wHh: Float32Array;
  bIh: Float32Array;
  bHh: Float32Array;
}

/** PyTorch's init: every parameter uniform in [−1/√h, 1/√h]. */
function hostWeights(inputSize: number, h: number, seed: number): HostWeights {
  const k = 1 / Math.sqrt(h);
  return {
    wIh: randomUniform(4 * h * inputSize, seed, -k, k),
    wHh: randomUniform(4 * h * h, seed + 1, -k, k),
    bIh: randomUniform(4 * h, seed + 2, -k, k),
    bHh: randomUniform(4 * h, seed + 3, -k, k),
  };
}

function shapes(inputSize: number, h: number): Record<(typeof PARAMS)[number], number[]> {
  return { wIh: [4 * h, inputSize], wHh: [4 * h, h], bIh: [4 * h], bHh: [4 * h] };
}

function upload(w: HostWeights, inputSize: number, h: number, name: string): LstmDirectionParams {
  const s = shapes(inputSize, h);
  const dev = ctx.gpu.device;
  return {
    wIh: tensorFrom(dev, w.wIh, s.wIh, `${name}.weight_ih`),
    wHh: tensorFrom(dev, w.wHh, s.wHh, `${name}.weight_hh`),
    bIh: tensorFrom(dev, w.bIh, s.bIh, `${name}.bias_ih`),
    bHh: tensorFrom(dev, w.bHh, s.bHh, `${name}.bias_hh`),
  };
}

/** Gradient tensors, zero or holding `prior` (to check accumulation). */
function gradTensors(inputSize: number, h: number, name: string, prior?: HostWeights): LstmDirectionParams {
  const s = shapes(inputSize, h);
  const dev = ctx.gpu.device;
  const make = (p: (typeof PARAMS)[number]) => (prior ? tensorFrom(dev, prior[p], s[p], `d ${name}.${p}`) : zerosTensor(dev, s[p], `d ${name}.${p}`));
  return { wIh: make('wIh'), wHh: make('wHh'), bIh: make('bIh'), bHh: make('bHh') };
}

function savedTensors(n: number, h: number, name: string): LstmDirectionSaved {
  const dev = ctx.gpu.device;
  return { gates: zerosTensor(dev, [n, 4 * h], `${name} gates`), cell: zerosTensor(dev, [n, h], `${name} cell`), hPrev: zerosTensor(dev, [n, h], `${name} hPrev`) };
}

async function expectGrads(label: string, got: LstmDirectionParams, want: LstmGrads, prior?: HostWeights): Promise<void> {
  for (const p of PARAMS) {
    const expected = prior ? want[p].map((v, i) => v + prior[p][i]) : want[p];
    expectClose(`${label} d${p}`, await readTensor(ctx.gpu.device, got[p]), expected, TOL);
  }
}

/** h of the step before each t in the direction's order, from the reference's outputs. */
function hPrevRef(out: Float64Array, n: number, h: number, reverse: boolean): Float64Array {
  const r = new Float64Array(n * h);
  for (let t = 0; t < n; t++) {
    const tp = reverse ? t + 1 : t - 1;
    if (tp >= 0 && tp < n) r.set(out.subarray(tp * h, (tp + 1) * h), t * h);
  }
  return r;
}

interface DirectionCase {
  n: number;
  inputSize: number;
  h: number;
  reverse: boolean;
  /** Gradients, dx: added to these random values instead of overwriting. */
  accumulate?: boolean;
}

async function checkDirection(c: DirectionCase, seed: number): Promise<void> {
  const dev = ctx.gpu.device;
  const { n, inputSize: K, h, reverse } = c;
  const label = `n=${n} in=${K} h=${h}${reverse ? ' reverse' : ''}`;
  const xh = randomUniform(n * K, seed, -1, 1);
  const wh = hostWeights(K, h, seed + 1);
  const dOuth = randomUniform(n * h, seed + 5, -1, 1);
  const prior = c.accumulate ? hostWeights(K, h, seed + 6) : undefined;
  const dxPrior = c.accumulate ? randomUniform(n * K, seed + 10) : undefined;

  const x = tensorFrom(dev, xh, [n, K], 'x');
  const params = upload(wh, K, h, 'lstm');
  const out = zerosTensor(dev, [n, h], 'out');
  const saved = savedTensors(n, h, 'lstm');
  const grads = gradTensors(K, h, 'lstm', prior);
  const dx = dxPrior ? tensorFrom(dev, dxPrior, [n, K], 'dx') : zerosTensor(dev, [n, K], 'dx');
  const rec = new CommandRecorder(ctx.gpu);
  encodeLstmDirectionForward(rec, { x, params, reverse, xProj: zerosTensor(dev, [n, 4 * h], 'xProj'), out, saved });
  const dGates = zerosTensor(dev, [n, 4 * h], 'dGates');
  encodeLstmDirectionBackward(rec, {
    x, params, reverse, saved, dOut: tensorFrom(dev, dOuth, [n, h], 'dOut'), dGates, grads, accumulate: c.accumulate, dx, accumulateDx: c.accumulate,
  });
  rec.submit();

  const args = { x: xh, n, inputSize: K, hidden: h, weights: wh as LstmWeights, reverse };
  const ref = lstmDirectionRef(args);
  const back = lstmDirectionBackwardRef(args, ref, dOuth);
  expectClose(`${label} out`, await readTensor(dev, out), ref.out, TOL);
  expectClose(`${label} gates`, await readTensor(dev, saved.gates), ref.gates, TOL);
  expectClose(`${label} cell`, await readTensor(dev, saved.cell), ref.cell, TOL);
  expectClose(`${label} hPrev`, await readTensor(dev, saved.hPrev), hPrevRef(ref.out, n, h, reverse), TOL);
  expectClose(`${label} dGates`, await readTensor(dev, dGates), back.dGates, TOL);
  expectClose(`${label} dx`, await readTensor(dev, dx), dxPrior ? back.dx.map((v, i) => v + dxPrior[i]) : back.dx, TOL);
  await expectGrads(label, grads, back, prior);
}

describe('one direction of one layer', () => {
  const cases: DirectionCase[] = [];
  [1, 7, 23].forEach((n, a) => {
    [5, 24, 70].forEach((h, b) => {
      cases.push({ n, h, inputSize: (a + b) % 2 === 0 ? 9 : 32, reverse: (a + b) % 2 === 1 });
    });
  });

  it('forward and backward on ragged sizes, both directions, against the reference', async () => {
    for (const [i, c] of cases.entries()) {
      await checkDirection(c, 100 + 20 * i);
      await checkDirection({ ...c, reverse: !c.reverse }, 1100 + 20 * i);
    }
  });

  it('gradients and dx are added to what the tensors hold with accumulate', async () => {
    await checkDirection({ n: 7, inputSize: 9, h: 24, reverse: true, accumulate: true }, 7);
  });

  it('h = 1024: several hidden units per thread', async () => {
    await checkDirection({ n: 3, inputSize: 9, h: 1024, reverse: true }, 11);
  });
});

describe('bidirectional stack', () => {
  async function checkStack(n: number, K: number, h: number, dropout: { p: number; seed: number } | null): Promise<void> {
    const dev = ctx.gpu.device;
    const L = 2;
    const label = `n=${n} in=${K} h=${h} dropout=${dropout?.p ?? 0}`;
    const xh = randomUniform(n * K, 1, -1, 1);
    const hostLayers = Array.from({ length: L }, (_, k) => ({
      forward: hostWeights(k === 0 ? K : 2 * h, h, 10 + 10 * k),
      reverse: hostWeights(k === 0 ? K : 2 * h, h, 15 + 10 * k),
    }));
    const dOuth = randomUniform(n * 2 * h, 2, -1, 1);
    const layers: BiLstmLayerParams[] = hostLayers.map((l, k) => ({
      forward: upload(l.forward, k === 0 ? K : 2 * h, h, `lstm.l${k}`),
      reverse: upload(l.reverse, k === 0 ? K : 2 * h, h, `lstm.l${k}_reverse`),
    }));
    const grads: BiLstmLayerParams[] = layers.map((_, k) => ({
      forward: gradTensors(k === 0 ? K : 2 * h, h, `l${k}`),
      reverse: gradTensors(k === 0 ? K : 2 * h, h, `l${k}_reverse`),
    }));
    const x = tensorFrom(dev, xh, [n, K], 'x');
    const out = zerosTensor(dev, [n, 2 * h], 'out');
    const dx = zerosTensor(dev, [n, K], 'dx');
    const alloc = (shape: readonly number[], name: string): GpuTensor => zerosTensor(dev, shape, name);
    const rec = new CommandRecorder(ctx.gpu);
    const saved = encodeBiLstmForward(rec, { x, layers, dropout, out, alloc });
    encodeBiLstmBackward(rec, { layers, dropout, saved, dOut: tensorFrom(dev, dOuth, [n, 2 * h], 'dOut'), grads, dx });
    rec.submit();

    const args = { x: xh, n, inputSize: K, hidden: h, layers: hostLayers, dropout };
    const ref = biLstmRef(args);
    const back = biLstmBackwardRef(args, ref, dOuth);
    expectClose(`${label} out`, await readTensor(dev, out), ref.out, TOL);
    expectClose(`${label} dx`, await readTensor(dev, dx), back.dx, TOL);
    for (let k = 0; k < L; k++) {
      await expectGrads(`${label} layer ${k} forward`, grads[k].forward, back.layers[k].forward);
      await expectGrads(`${label} layer ${k} reverse`, grads[k].reverse, back.layers[k].reverse);
    }
  }

  // The matmuls around the recurrence differ by kernel profile; the recurrence kernels do not.
  for (const profile of ['direct', 'tiled'] as const) {
    it(`2 layers with dropout between them (training), ${profile} profile: forward and backward against the reference`, async () => {
      const before = ctx.gpu.kernels;
      ctx.gpu.kernels = profile;
      try {
        await checkStack(7, 9, 24, { p: 0.25, seed: 42 });
      } finally {
        ctx.gpu.kernels = before;
      }
    });
  }

  it('2 layers without dropout (evaluation): forward and backward against the reference', async () => {
    await checkStack(23, 32, 5, null);
  });
});

describe('limits and shapes', () => {
  it('refuses a hidden size whose workgroup arrays exceed maxComputeWorkgroupStorageSize', () => {
    const defaults = { maxComputeWorkgroupStorageSize: 16384 };
    // h = 1024 (the largest P-tuning default would be far smaller) fits the 16 KiB default in both kernels.
    expect(() => checkLstmHidden(defaults, 'forward', 1024, 'lstm_forward')).not.toThrow();
    expect(() => checkLstmHidden(defaults, 'backward', 1024, 'lstm_backward')).not.toThrow();
    // The forward keeps 3 floats per unit (h twice, c): 3 · 4 bytes · 1408 > 16384.
    expect(() => checkLstmHidden(defaults, 'forward', 1400, 'lstm_forward')).toThrow(GpuLimitError);
    expect(() => checkLstmHidden(defaults, 'forward', 1400, 'lstm_forward')).toThrow(/maxComputeWorkgroupStorageSize = 16896, but this device allows at most 16384/);
    expect(() => checkLstmHidden({ maxComputeWorkgroupStorageSize: 32768 }, 'forward', 1400, 'lstm_forward')).not.toThrow();
    // The arrays are sized in steps of 64 units: 1344 = 21·64 is the largest h with 3·4·h ≤ 16384.
    expect(maxLstmHidden(16384)).toBe(1344);
    expect(() => checkLstmHidden(defaults, 'forward', 1344, 'lstm_forward')).not.toThrow();
    expect(() => checkLstmHidden(defaults, 'forward', 1345, 'lstm_forward')).toThrow(/hidden_size 1345; at most 1344 fits/);
  });

  it('refuses mismatched shapes, output columns outside the tensor, and written inputs', () => {
    const dev = ctx.gpu.device;
    const [n, h] = [3, 4];
    const rec = new CommandRecorder(ctx.gpu);
    const base = {
      xProj: zerosTensor(dev, [n, 4 * h], 'xProj'),
      wHh: zerosTensor(dev, [4 * h, h], 'weight_hh'),
      bHh: zerosTensor(dev, [4 * h], 'bias_hh'),
      reverse: false,
      out: zerosTensor(dev, [n, 2 * h], 'out'),
      saved: savedTensors(n, h, 'lstm'),
    };
    expect(() => encodeLstmRecurrence(rec, { ...base, xProj: zerosTensor(dev, [n, 3 * h], 'xProj') })).toThrow(
      /tensor "xProj" \(xProj\) has shape \[3, 12\], expected \[n, 4h\] = \[3, 16\]/,
    );
    expect(() => encodeLstmRecurrence(rec, { ...base, outOffset: h + 1 })).toThrow(/columns 5 … 8 of "out" \(out\) do not fit its 8 columns/);
    expect(() => encodeLstmRecurrence(rec, { ...base, out: base.xProj })).toThrow(ShapeError);
    expect(() => encodeLstmRecurrence(rec, { ...base, saved: { ...base.saved, cell: zerosTensor(dev, [n + 1, h], 'cell') } })).toThrow(/saved cell/);
  });
});
