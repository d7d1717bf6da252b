/**
 * Float64 reference of a LoRA linear layer, as PEFT computes it (tuners/lora/layer.py, Linear.forward):
 *
 *   result = x·W0ᵀ + bias + lora_B(lora_A(dropout(x))) · scaling
 *
 * with W0 the frozen weight in logical [N, K] orientation (a conv1d source is transposed beforehand),
 * A = lora_A.weight [r, K], B = lora_B.weight [N, r]. Dropout uses the seeded mask of `dropout-mask.ts`,
 * element index m·K + k, so the mask is a fixed function of the seed and the layer is differentiable in x, A, B.
 */

import { dropoutFactor, validateDropout } from '../dropout-mask';
import { assertLength, assertPositiveInt, matmulAtB, matmulDyW, matmulXWt } from './matmul';

export interface LoraLinearShape {
  /** Input activations [M, K]. */
  x: ArrayLike<number>;
  M: number;
  K: number;
  N: number;
  /** Frozen weight W0, logical [N, K]. */
  w: ArrayLike<number>;
  /** lora_A.weight [r, K]. */
  a: ArrayLike<number>;
  /** lora_B.weight [N, r]. */
  b: ArrayLike<number>;
  r: number;
  /** LoRA scaling (see `loraScaling`). */
  scale: number;
  /** lora_dropout probability in [0, 1). */
  dropoutP: number;
  /** Dropout seed (u32). */
  seed: number;
}

export interface LoraLinearForwardParams extends LoraLinearShape {
  /** Bias [N], or null. */
  bias: ArrayLike<number> | null;
}

export interface LoraLinearForwardResult {
  /** Output [M, N]. */
  y: Float64Array;
  /** xDrop · Aᵀ [M, r]. */
  xa: Float64Array;
  /** dropout(x) [M, K]. */
  xDrop: Float64Array;
}

export interface LoraLinearBackwardParams extends LoraLinearShape {
  /** Upstream gradient dL/dy [M, N]. */
  dy: ArrayLike<number>;
}

export interface LoraLinearBackwardResult {
  /** dL/dx [M, K]. */
  dx: Float64Array;
  /** dL/dA [r, K]. */
  dA: Float64Array;
  /** dL/dB [N, r]. */
  dB: Float64Array;
}

function validateShape(fn: string, p: LoraLinearShape): void {
  assertPositiveInt(fn, 'M', p.M);
  assertPositiveInt(fn, 'K', p.K);
  assertPositiveInt(fn, 'N', p.N);
  assertPositiveInt(fn, 'r', p.r);
  assertLength(fn, 'x', p.x, 'M', p.M, 'K', p.K);
  assertLength(fn, 'w', p.w, 'N', p.N, 'K', p.K);
  assertLength(fn, 'a (lora_A)', p.a, 'r', p.r, 'K', p.K);
  assertLength(fn, 'b (lora_B)', p.b, 'N', p.N, 'r', p.r);
  if (!Number.isFinite(p.scale)) throw new RangeError(`${fn}: scale must be finite, got ${p.scale}`);
  validateDropout(p.dropoutP);
  if (!Number.isInteger(p.seed)) throw new RangeError(`${fn}: seed must be an integer, got ${p.seed}`);
}

/** Per-element dropout multipliers of x [M, K] (0 or 1/(1 − p)). */
export function dropoutFactors(M: number, K: number, p: number, seed: number): Float64Array {
  const f = new Float64Array(M * K);
  for (let i = 0; i < M * K; i++) f[i] = dropoutFactor(seed, i, p);
  return f;
}

/** Forward pass: y = x·Wᵀ + bias + scale · (xDrop·Aᵀ)·Bᵀ. */
export function loraLinearForwardRef(p: LoraLinearForwardParams): LoraLinearForwardResult {
  const fn = 'loraLinearForwardRef';
  validateShape(fn, p);
  const { x, M, K, N, r } = p;
  if (p.bias !== null) {
    if (p.bias.length !== N) throw new RangeError(`${fn}: bias has ${p.bias.length} elements, expected N = ${N}`);
  }
  const factors = dropoutFactors(M, K, p.dropoutP, p.seed);
  const xDrop = new Float64Array(M * K);
  for (let i = 0; i < M * K; i++) xDrop[i] = x[i] * factors[i];

  const y = matmulXWt(x, M, K, p.w, N);
  const xa = matmulXWt(xDrop, M, K, p.a, r);
  const lora = matmulXWt(xa, M, r, p.b, N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const i = m * N + n;
      y[i] += (p.bias === null ? 0 : p.bias[n]) + p.scale * lora[i];
    }
  }
  return { y, xa, xDrop };
}

/**
 * Backward pass for upstream gradient dy, with g = dy·B [M, r]:
 * - dx = dy·W + (scale · g·A) ⊙ dropoutFactor   (the LoRA branch sees xDrop = x ⊙ factor)
 * - dA = scale · gᵀ·xDrop   [r, K]
 * - dB = scale · dyᵀ·xa     [N, r], xa = xDrop·Aᵀ
 */
export function loraLinearBackwardRef(p: LoraLinearBackwardParams): LoraLinearBackwardResult {
  const fn = 'loraLinearBackwardRef';
  validateShape(fn, p);
  const { dy, x, M, K, N, r, scale } = p;
  assertLength(fn, 'dy', dy, 'M', M, 'N', N);

  const factors = dropoutFactors(M, K, p.dropoutP, p.seed);
  const xDrop = new Float64Array(M * K);
  for (let i = 0; i < M * K; i++) xDrop[i] = x[i] * factors[i];
  const xa = matmulXWt(xDrop, M, K, p.a, r);

  const g = matmulDyW(dy, M, N, p.b, r);
  const dx = matmulDyW(dy, M, N, p.w, K);
  const gA = matmulDyW(g, M, r, p.a, K);
  for (let i = 0; i < M * K; i++) dx[i] += scale * gA[i] * factors[i];

  const dA = matmulAtB(g, M, r, xDrop, K);
  for (let i = 0; i < dA.length; i++) dA[i] *= scale;
  const dB = matmulAtB(dy, M, N, xa, r);
  for (let i = 0; i < dB.length; i++) dB[i] *= scale;
  return { dx, dA, dB };
}
