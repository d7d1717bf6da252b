/**
 * Float64 references of IA³'s element-wise kernel (kernels/ia3.ts, ia3_scale.wgsl), row-major [M, N].
 */
import { assertLength, assertPositiveInt } from './matmul';

/** out[m, n] = (acc ? acc[m, n] : 0) + x[m, n]·(1 + alpha·(l[n] − 1)). */
export function ia3ScaleRef(x: ArrayLike<number>, l: ArrayLike<number>, M: number, N: number, alpha = 1, acc?: ArrayLike<number>): Float64Array {
  assertPositiveInt('ia3ScaleRef', 'M', M);
  assertPositiveInt('ia3ScaleRef', 'N', N);
  assertLength('ia3ScaleRef', 'x', x, 'M', M, 'N', N);
  assertLength('ia3ScaleRef', 'l', l, '1', 1, 'N', N);
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) out[m * N + n] = (acc ? acc[m * N + n] : 0) + x[m * N + n] * (1 + alpha * (l[n] - 1));
  }
  return out;
}

/** Σ_m a[m, n]·b[m, n]: ia3_l's gradient from dy and z (output scaling) or x and g (input scaling). */
export function columnDotRef(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number): Float64Array {
  assertLength('columnDotRef', 'a', a, 'M', M, 'N', N);
  assertLength('columnDotRef', 'b', b, 'M', M, 'N', N);
  const out = new Float64Array(N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) out[n] += a[m * N + n] * b[m * N + n];
  return out;
}
