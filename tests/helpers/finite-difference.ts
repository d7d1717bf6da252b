import { randomUniform } from '../../src/util/random';

/** Central-difference gradient of `f` with respect to every element of `v` (perturbed in place, then restored). */
export function numericGrad(v: Float64Array, f: () => number, h = 1e-6): Float64Array {
  const g = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const orig = v[i];
    v[i] = orig + h;
    const up = f();
    v[i] = orig - h;
    const down = f();
    v[i] = orig;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** n float64 values drawn uniformly from [lo, hi) with a seed. */
export function randomF64(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from(randomUniform(n, seed, lo, hi));
}

/** Σ a·b: the scalar loss L = Σ dy ⊙ f(x) whose gradient a backward given dy computes. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
