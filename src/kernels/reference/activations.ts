/**
 * Float64 references of the activations and their derivatives:
 * - the pointwise functions under transformers' ACT2FN names (pointwise_activation.wgsl): relu, tanh, swish
 *   (x·σ(x)), gelu (x·Φ(x), exact erf) and gelu_new (HF NewGELUActivation, GPT-2's MLP:
 *   0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))), each backward from the forward's input x;
 * - SwiGLU gating (Llama MLP): h = silu(gate)·up, silu(g) = g·σ(g).
 */

const K0 = Math.sqrt(2 / Math.PI);
const K1 = 0.044715;

function sameLength(fn: string, names: string[], arrays: ArrayLike<number>[]): void {
  for (let i = 1; i < arrays.length; i++) {
    if (arrays[i].length !== arrays[0].length) {
      throw new RangeError(`${fn}: ${names[i]} has ${arrays[i].length} elements, ${names[0]} has ${arrays[0].length}`);
    }
  }
}

export function sigmoid(g: number): number {
  return g >= 0 ? 1 / (1 + Math.exp(-g)) : Math.exp(g) / (1 + Math.exp(g));
}

export function swigluRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  sameLength('swigluRef', ['gate', 'up'], [gate, up]);
  return Float64Array.from(gate, (g, i) => g * sigmoid(g) * up[i]);
}

/** dGate = dh·up·σ(g)·(1 + g·(1 − σ(g))), dUp = dh·g·σ(g). */
export function swigluBackwardRef(
  dh: ArrayLike<number>,
  gate: ArrayLike<number>,
  up: ArrayLike<number>,
): { dGate: Float64Array; dUp: Float64Array } {
  sameLength('swigluBackwardRef', ['dh', 'gate', 'up'], [dh, gate, up]);
  const dGate = new Float64Array(gate.length);
  const dUp = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i];
    const s = sigmoid(g);
    dGate[i] = dh[i] * up[i] * s * (1 + g * (1 - s));
    dUp[i] = dh[i] * g * s;
  }
  return { dGate, dUp };
}

/** erf(z) to about 1e-14: its Maclaurin series below |z| = 2.5, 1 − erfc by Laplace's continued fraction above. */
export function erf(z: number): number {
  const a = Math.abs(z);
  if (a < 2.5) {
    // erf(z) = 2/√π · Σ (−1)ⁿ z^(2n+1) / (n!·(2n+1))
    let term = a;
    let sum = a;
    for (let n = 1; n < 100 && Math.abs(term) > 1e-17 * sum; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(z) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = exp(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …))))
  let f = a;
  for (let k = 120; k >= 1; k--) f = a + k / 2 / f;
  return Math.sign(z) * (1 - Math.exp(-a * a) / (Math.sqrt(Math.PI) * f));
}

/** The pointwise activations by transformers' ACT2FN name: f and f′, both of the forward's input. */
export const POINTWISE_REFS = {
  relu: { f: (v: number) => Math.max(v, 0), df: (v: number) => (v > 0 ? 1 : 0) }, // PyTorch's threshold_backward: 0 at x = 0
  tanh: { f: Math.tanh, df: (v: number) => 1 - Math.tanh(v) ** 2 },
  swish: { f: (v: number) => v * sigmoid(v), df: (v: number) => sigmoid(v) * (1 + v * (1 - sigmoid(v))) },
  gelu: { f: (v: number) => v * normalCdf(v), df: (v: number) => normalCdf(v) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI) },
  gelu_new: {
    f: (v: number) => 0.5 * v * (1 + Math.tanh(K0 * (v + K1 * v ** 3))),
    df: (v: number) => {
      const t = Math.tanh(K0 * (v + K1 * v ** 3));
      return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * K0 * (1 + 3 * K1 * v * v);
    },
  },
} as const satisfies Record<string, { f(v: number): number; df(v: number): number }>;
export type PointwiseFn = keyof typeof POINTWISE_REFS;

function normalCdf(v: number): number {
  return 0.5 * (1 + erf(v / Math.SQRT2));
}

/** y = f(x). */
export function pointwiseRef(fn: PointwiseFn, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, POINTWISE_REFS[fn].f);
}

/** dx = dy·f′(x). */
export function pointwiseBackwardRef(fn: PointwiseFn, dy: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  sameLength(`pointwiseBackwardRef(${fn})`, ['dy', 'x'], [dy, x]);
  const df = POINTWISE_REFS[fn].df;
  return Float64Array.from(x, (v, i) => dy[i] * df(v));
}
