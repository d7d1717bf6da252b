/**
 * A small reverse-mode tape on float64 matrices, for the CPU reference model. Every value is a row-major
 * [rows, cols] matrix. Frozen model weights never become tape values: ops read them directly as constants,
 * so only activations and adapter parameters live here. This file holds the tape and its shape-level ops
 * (add, scale, slices, rows); the transformer's ops are in tape-ops.ts.
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

/**
 * [prefix; x_b] for each of the B sequences of x: prefix [n, C] is put in front of every sequence's T rows of x
 * [B·T, C], giving [B·(n + T), C]. The prefix's gradient is the sum over the sequences.
 */
export function prependRows(t: Tape, prefix: Var, x: Var, B: number): Var {
  if (prefix.cols !== x.cols) throw new RangeError(`prependRows: prefix has ${prefix.cols} columns, x has ${x.cols}`);
  if (x.rows % B !== 0) throw new RangeError(`prependRows: ${x.rows} rows of x do not split into ${B} sequences`);
  const n = prefix.rows;
  const T = x.rows / B;
  const C = x.cols;
  const S = n + T;
  const y = new Float64Array(B * S * C);
  for (let b = 0; b < B; b++) {
    y.set(prefix.data, b * S * C);
    y.set(x.data.subarray(b * T * C, (b + 1) * T * C), (b * S + n) * C);
  }
  return t.record([prefix, x], y, B * S, C, (dy) => {
    if (prefix.requiresGrad) {
      const g = gradOf(prefix);
      for (let b = 0; b < B; b++) for (let i = 0; i < n * C; i++) g[i] += dy[b * S * C + i];
    }
    if (x.requiresGrad) {
      const g = gradOf(x);
      for (let b = 0; b < B; b++) for (let i = 0; i < T * C; i++) g[b * T * C + i] += dy[(b * S + n) * C + i];
    }
  });
}
