/**
 * Float64 references of DoRA's kernels (kernels/dora.ts):
 * - `doraNormRef`: norm[n] = ‖W0[n, :] + s·B[n, :]·A‖ over the input dimension, W0 in nn.Linear orientation [N, K]
 *   (PEFT's DoraLinearLayer.get_weight_norm, with GPT-2's Conv1D weights transposed first), and g[n] = m[n] / norm[n];
 * - `doraScaleRef`: out (+)= a ⊙ (g − shift) (+ bias), g broadcast over the rows;
 * - `doraMagnitudeTermRef`: out (+)= a ⊙ b / norm (the terms whose column sums are m's gradient);
 * - `doraDropoutRef`: out (+)= a ⊙ dropout mask.
 */
import { dropoutFactor } from '../dropout-mask';

export function doraNormRef(args: {
  w: ArrayLike<number>; // [N, K]
  a: ArrayLike<number>; // [r, K]
  b: ArrayLike<number>; // [N, r]
  m: ArrayLike<number>; // [N]
  N: number;
  K: number;
  r: number;
  scale: number;
}): { norm: Float64Array; g: Float64Array } {
  const { w, a, b, m, N, K, r, scale } = args;
  const norm = new Float64Array(N);
  const g = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let sum = 0;
    for (let k = 0; k < K; k++) {
      let v = w[n * K + k];
      for (let j = 0; j < r; j++) v += scale * b[n * r + j] * a[j * K + k];
      sum += v * v;
    }
    norm[n] = Math.sqrt(sum);
    g[n] = m[n] / norm[n];
  }
  return { norm, g };
}

export function doraScaleRef(a: ArrayLike<number>, g: ArrayLike<number>, N: number, shift: number, bias: ArrayLike<number> | null, out?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < y.length; i++) y[i] = (out ? out[i] : 0) + a[i] * (g[i % N] - shift) + (bias ? bias[i % N] : 0);
  return y;
}

export function doraMagnitudeTermRef(a: ArrayLike<number>, b: ArrayLike<number>, norm: ArrayLike<number>, N: number): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < y.length; i++) y[i] = (a[i] * b[i]) / norm[i % N];
  return y;
}

export function doraDropoutRef(a: ArrayLike<number>, p: number, seed: number, out?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < y.length; i++) y[i] = (out ? out[i] : 0) + a[i] * dropoutFactor(seed, i, p);
  return y;
}
