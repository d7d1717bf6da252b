/**
 * Plain float64 matrix products, the references the GPU matmul kernels are checked against.
 * All matrices are row-major. Inputs may be any numeric array; outputs are Float64Array.
 */

/** Throws unless `value` is a positive safe integer. */
export function assertPositiveInt(fn: string, dim: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${fn}: ${dim} must be a positive integer, got ${value}`);
  }
}

/**
 * Throws unless `arr` has rows·cols elements, e.g.
 * `matmulXWt: x has 10 elements, expected M·K = 3·4 = 12`.
 */
export function assertLength(
  fn: string,
  tensor: string,
  arr: ArrayLike<number>,
  rowsName: string,
  rows: number,
  colsName: string,
  cols: number,
): void {
  if (arr.length !== rows * cols) {
    throw new RangeError(
      `${fn}: ${tensor} has ${arr.length} elements, expected ${rowsName}·${colsName} = ${rows}·${cols} = ${rows * cols}`,
    );
  }
}

/** y[M, N] = x[M, K] · w[N, K]ᵀ (a linear layer's forward with w in nn.Linear orientation). */
export function matmulXWt(x: ArrayLike<number>, M: number, K: number, w: ArrayLike<number>, N: number): Float64Array {
  const fn = 'matmulXWt';
  assertPositiveInt(fn, 'M', M);
  assertPositiveInt(fn, 'K', K);
  assertPositiveInt(fn, 'N', N);
  assertLength(fn, 'x', x, 'M', M, 'K', K);
  assertLength(fn, 'w', w, 'N', N, 'K', K);
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
  }
  return y;
}

/** dx[M, K] = dy[M, N] · w[N, K] (a linear layer's input gradient). */
export function matmulDyW(dy: ArrayLike<number>, M: number, N: number, w: ArrayLike<number>, K: number): Float64Array {
  const fn = 'matmulDyW';
  assertPositiveInt(fn, 'M', M);
  assertPositiveInt(fn, 'N', N);
  assertPositiveInt(fn, 'K', K);
  assertLength(fn, 'dy', dy, 'M', M, 'N', N);
  assertLength(fn, 'w', w, 'N', N, 'K', K);
  const dx = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += dy[m * N + n] * w[n * K + k];
      dx[m * K + k] = s;
    }
  }
  return dx;
}

/** out[P, Q] = a[M, P]ᵀ · b[M, Q] (a weight gradient: a = dy, b = input activations). */
export function matmulAtB(a: ArrayLike<number>, M: number, P: number, b: ArrayLike<number>, Q: number): Float64Array {
  const fn = 'matmulAtB';
  assertPositiveInt(fn, 'M', M);
  assertPositiveInt(fn, 'P', P);
  assertPositiveInt(fn, 'Q', Q);
  assertLength(fn, 'a', a, 'M', M, 'P', P);
  assertLength(fn, 'b', b, 'M', M, 'Q', Q);
  const out = new Float64Array(P * Q);
  for (let p = 0; p < P; p++) {
    for (let q = 0; q < Q; q++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += a[m * P + p] * b[m * Q + q];
      out[p * Q + q] = s;
    }
  }
  return out;
}
