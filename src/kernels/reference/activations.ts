/**
 * Float64 references of the MLP activations and their derivatives:
 * - gelu_new (HF NewGELUActivation): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
 * - SwiGLU gating (Llama MLP): h = silu(gate)·up, silu(g) = g·σ(g)
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

export function geluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => 0.5 * v * (1 + Math.tanh(K0 * (v + K1 * v ** 3))));
}

/** dx = dy·gelu′(x). */
export function geluBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  sameLength('geluBackwardRef', ['dy', 'x'], [dy, x]);
  return Float64Array.from(x, (v, i) => {
    const t = Math.tanh(K0 * (v + K1 * v ** 3));
    return dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * K0 * (1 + 3 * K1 * v * v));
  });
}

function sigmoid(g: number): number {
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
