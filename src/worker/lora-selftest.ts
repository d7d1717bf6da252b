/**
 * The fused LoRA-linear forward self-test: a small ragged problem (no dimension a multiple of a tile or a
 * quantization group) on seeded random data, run once on the GPU and checked against the CPU reference.
 */
import type { GpuContext } from '../gpu/device';
import { runLoraForward, type LoraForwardHostInput } from '../kernels/lora-linear-host';
import { dequantizeWeight, packWeight } from '../kernels/quantize';
import { loraLinearForwardRef } from '../kernels/reference/lora-linear';
import { checkTolerance, type Tolerance } from '../kernels/reference/tolerance';
import type { WeightFormat, WeightLayout } from '../kernels/weight-format';
import { loraScaling } from '../peft/lora-scaling';
import { randomNormal, randomUniform } from '../util/random';
import type { LoraSelfTestResult, SelfTestCheck } from './protocol';

export const SELFTEST_SHAPE = { M: 7, K: 40, N: 9, r: 4 } as const;
export const SELFTEST_LORA_ALPHA = 8;
export const SELFTEST_DROPOUT = 0.1;
export const SELFTEST_TOLERANCE = { atol: 1e-4, rtol: 1e-4 } as const;

export interface SelfTestProblem {
  input: LoraForwardHostInput;
  /** W0 before packing, in the source layout. */
  w0: Float32Array;
  format: WeightFormat;
  layout: WeightLayout;
}

/** Builds the self-test's inputs from `seed` alone, so anyone can rebuild them. */
export function buildSelfTestProblem(seed: number, format: WeightFormat = 'nf4', layout: WeightLayout = 'linear'): SelfTestProblem {
  const { M, K, N, r } = SELFTEST_SHAPE;
  const s = (k: number) => (Math.imul(seed >>> 0, 16) + k) >>> 0;
  const x = randomUniform(M * K, s(1), -1, 1);
  const w0 = randomNormal(N * K, s(2), 0.5);
  const bias = randomUniform(N, s(3), -0.5, 0.5);
  const bound = 1 / Math.sqrt(K);
  const a = randomUniform(r * K, s(4), -bound, bound);
  // PEFT initialises B to zero; a non-zero B exercises the LoRA branch.
  const b = randomNormal(N * r, s(5), 0.2);
  return {
    w0,
    format,
    layout,
    input: {
      x,
      M,
      K,
      N,
      w0: packWeight(w0, N, K, format, layout),
      bias,
      a,
      b,
      r,
      scale: loraScaling(SELFTEST_LORA_ALPHA, r),
      dropoutP: SELFTEST_DROPOUT,
      seed: seed >>> 0,
    },
  };
}

/** Elementwise |gpu − ref| ≤ atol + rtol·|ref| for y and xa, summarised. */
export function compareToReference(
  gpuY: ArrayLike<number>,
  refY: ArrayLike<number>,
  gpuXa: ArrayLike<number>,
  refXa: ArrayLike<number>,
  tol: Tolerance = SELFTEST_TOLERANCE,
): SelfTestCheck {
  const y = checkTolerance(gpuY, refY, tol);
  const xa = checkTolerance(gpuXa, refXa, tol);
  return {
    atol: tol.atol,
    rtol: tol.rtol,
    maxAbsErrorY: y.maxAbsError,
    maxAbsErrorXa: xa.maxAbsError,
    worstRatio: Math.max(y.worstRatio, xa.worstRatio),
    pass: y.pass && xa.pass,
  };
}

export async function runLoraSelfTest(gpu: GpuContext, seed: number, format: WeightFormat = 'nf4'): Promise<LoraSelfTestResult> {
  const problem = buildSelfTestProblem(seed, format, 'linear');
  const { input } = problem;

  const t0 = performance.now();
  const { y, xa } = await runLoraForward(gpu, input);
  const gpuMs = performance.now() - t0;
  gpu.assertHealthy();

  const ref = loraLinearForwardRef({
    x: input.x,
    M: input.M,
    K: input.K,
    N: input.N,
    w: dequantizeWeight(input.w0),
    bias: input.bias,
    a: input.a,
    b: input.b,
    r: input.r,
    scale: input.scale,
    dropoutP: input.dropoutP,
    seed: input.seed,
  });

  return {
    seed: input.seed,
    format: problem.format,
    layout: problem.layout,
    M: input.M,
    K: input.K,
    N: input.N,
    r: input.r,
    scale: input.scale,
    dropoutP: input.dropoutP,
    x: Array.from(input.x),
    w0: Array.from(problem.w0),
    bias: input.bias ? Array.from(input.bias) : null,
    a: Array.from(input.a),
    b: Array.from(input.b),
    y: Array.from(y),
    xa: Array.from(xa),
    gpuMs,
    check: compareToReference(y, ref.y, xa, ref.xa),
    adapter: { vendor: gpu.report.vendor, architecture: gpu.report.architecture },
  };
}
