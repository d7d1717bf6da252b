/**
 * A small reverse-mode tape on float64 matrices, for the CPU reference model. Every value is a row-major
 * [rows, cols] matrix. Frozen model weights never become tape values: ops read them directly as constants,
 * so only activations and the LoRA matrices live here.
 *
 * A value requires a gradient when any of its inputs does; ops on values that need none record nothing,
 * so the forward-only path builds no backward closures at all.
 */

export class Var {
  /** dLoss/dValue, allocated on first accumulation. */
  grad: Float64Array | null = null;
  constructor(
    readonly data: Float64Array,
    readonly rows: number,
    readonly cols: number,
    readonly requiresGrad: boolean,
  ) {
    if (data.length !== rows * cols) {
      throw new RangeError(`Var: data has ${data.length} elements, expected ${rows}·${cols} = ${rows * cols}`);
    }
  }
}

/** The gradient buffer of `v`, created as zeros on first use. */
export function gradOf(v: Var): Float64Array {
  if (v.grad === null) v.grad = new Float64Array(v.data.length);
  return v.grad;
}

export class Tape {
  private readonly steps: (() => void)[] = [];

  /** A value that needs no gradient (inputs, frozen data). */
  constant(data: Float64Array, rows: number, cols: number): Var {
    return new Var(data, rows, cols, false);
  }

  /** A leaf whose gradient is wanted (a LoRA matrix). */
  param(data: Float64Array, rows: number, cols: number): Var {
    return new Var(data, rows, cols, true);
  }

  /**
   * Makes the output of an op on `inputs`. When any input requires a gradient, `backward(dOut)` is kept and
   * run by `backward()`; it must add each input's share into `gradOf(input)` for inputs that require one.
   */
  record(inputs: Var[], data: Float64Array, rows: number, cols: number, backward: (dOut: Float64Array) => void): Var {
    const out = new Var(data, rows, cols, inputs.some((v) => v.requiresGrad));
    if (out.requiresGrad) {
      this.steps.push(() => {
        if (out.grad !== null) backward(out.grad);
      });
    }
    return out;
  }

  /** Back-propagates from a scalar [1, 1] value: its gradient is seeded with 1. */
  backward(loss: Var): void {
    if (loss.rows !== 1 || loss.cols !== 1) throw new RangeError(`Tape.backward: loss must be [1, 1], got [${loss.rows}, ${loss.cols}]`);
    if (!loss.requiresGrad) return;
    gradOf(loss)[0] = 1;
    for (let i = this.steps.length - 1; i >= 0; i--) this.steps[i]();
  }
}

function sameShape(fn: string, a: Var, b: Var): void {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new RangeError(`${fn}: shapes differ, [${a.rows}, ${a.cols}] and [${b.rows}, ${b.cols}]`);
  }
}

/** a + b, elementwise. */
export function add(t: Tape, a: Var, b: Var): Var {
  sameShape('add', a, b);
  const y = new Float64Array(a.data.length);
  for (let i = 0; i < y.length; i++) y[i] = a.data[i] + b.data[i];
  return t.record([a, b], y, a.rows, a.cols, (dy) => {
    for (const v of [a, b]) {
      if (!v.requiresGrad) continue;
      const g = gradOf(v);
      for (let i = 0; i < dy.length; i++) g[i] += dy[i];
    }
  });
}

/** a ⊙ b, elementwise. */
export function mul(t: Tape, a: Var, b: Var): Var {
  sameShape('mul', a, b);
  const y = new Float64Array(a.data.length);
  for (let i = 0; i < y.length; i++) y[i] = a.data[i] * b.data[i];
  return t.record([a, b], y, a.rows, a.cols, (dy) => {
    if (a.requiresGrad) {
      const g = gradOf(a);
      for (let i = 0; i < dy.length; i++) g[i] += dy[i] * b.data[i];
    }
    if (b.requiresGrad) {
      const g = gradOf(b);
      for (let i = 0; i < dy.length; i++) g[i] += dy[i] * a.data[i];
    }
  });
}

/** s · a for a constant scalar s. */
export function scale(t: Tape, a: Var, s: number): Var {
  const y = new Float64Array(a.data.length);
  for (let i = 0; i < y.length; i++) y[i] = s * a.data[i];
  return t.record([a], y, a.rows, a.cols, (dy) => {
    const g = gradOf(a);
    for (let i = 0; i < dy.length; i++) g[i] += s * dy[i];
  });
}

/** a ⊙ f for a constant array f of a's shape (e.g. dropout multipliers). */
export function mulConst(t: Tape, a: Var, f: ArrayLike<number>): Var {
  if (f.length !== a.data.length) throw new RangeError(`mulConst: factors have ${f.length} elements, expected ${a.data.length}`);
  const y = new Float64Array(a.data.length);
  for (let i = 0; i < y.length; i++) y[i] = a.data[i] * f[i];
  return t.record([a], y, a.rows, a.cols, (dy) => {
    const g = gradOf(a);
    for (let i = 0; i < dy.length; i++) g[i] += dy[i] * f[i];
  });
}

/** Columns [start, start + width) of a. */
export function sliceCols(t: Tape, a: Var, start: number, width: number): Var {
  if (start < 0 || width <= 0 || start + width > a.cols) {
    throw new RangeError(`sliceCols: columns [${start}, ${start + width}) are outside [0, ${a.cols})`);
  }
  const y = new Float64Array(a.rows * width);
  for (let m = 0; m < a.rows; m++) {
    for (let j = 0; j < width; j++) y[m * width + j] = a.data[m * a.cols + start + j];
  }
  return t.record([a], y, a.rows, width, (dy) => {
    const g = gradOf(a);
    for (let m = 0; m < a.rows; m++) {
      for (let j = 0; j < width; j++) g[m * a.cols + start + j] += dy[m * width + j];
    }
  });
}

/** x[M, K] · w[N, K]ᵀ → [M, N], with gradients to both (used for the LoRA products). */
export function matmulNT(t: Tape, x: Var, w: Var): Var {
  if (x.cols !== w.cols) throw new RangeError(`matmulNT: inner sizes differ, x is [${x.rows}, ${x.cols}], w is [${w.rows}, ${w.cols}]`);
  const M = x.rows;
  const K = x.cols;
  const N = w.rows;
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x.data[m * K + k] * w.data[n * K + k];
      y[m * N + n] = s;
    }
  }
  return t.record([x, w], y, M, N, (dy) => {
    if (x.requiresGrad) {
      const g = gradOf(x);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          const d = dy[m * N + n];
          if (d === 0) continue;
          for (let k = 0; k < K; k++) g[m * K + k] += d * w.data[n * K + k];
        }
      }
    }
    if (w.requiresGrad) {
      const g = gradOf(w);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          const d = dy[m * N + n];
          if (d === 0) continue;
          for (let k = 0; k < K; k++) g[n * K + k] += d * x.data[m * K + k];
        }
      }
    }
  });
}

/**
 * A frozen linear layer: y[M, N] = x[M, K]·W + b. `layout` is how W is stored: 'linear' is nn.Linear's
 * [N, K] (y = x·Wᵀ), 'conv1d' is GPT-2's Conv1D [K, N] (y = x·W). The gradient flows to x only.
 */
export function frozenLinear(
  t: Tape,
  x: Var,
  w: ArrayLike<number>,
  layout: 'linear' | 'conv1d',
  N: number,
  bias: ArrayLike<number> | null,
): Var {
  const M = x.rows;
  const K = x.cols;
  if (w.length !== N * K) throw new RangeError(`frozenLinear: weight has ${w.length} elements, expected ${K}·${N} = ${K * N}`);
  if (bias !== null && bias.length !== N) throw new RangeError(`frozenLinear: bias has ${bias.length} elements, expected ${N}`);
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    const row = m * N;
    if (layout === 'linear') {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += x.data[m * K + k] * w[n * K + k];
        y[row + n] = s;
      }
    } else {
      for (let k = 0; k < K; k++) {
        const xv = x.data[m * K + k];
        if (xv === 0) continue;
        for (let n = 0; n < N; n++) y[row + n] += xv * w[k * N + n];
      }
    }
    if (bias !== null) for (let n = 0; n < N; n++) y[row + n] += bias[n];
  }
  return t.record([x], y, M, N, (dy) => {
    const g = gradOf(x);
    for (let m = 0; m < M; m++) {
      for (let k = 0; k < K; k++) {
        let s = 0;
        if (layout === 'linear') for (let n = 0; n < N; n++) s += dy[m * N + n] * w[n * K + k];
        else for (let n = 0; n < N; n++) s += dy[m * N + n] * w[k * N + n];
        g[m * K + k] += s;
      }
    }
  });
}
