/**
 * Float64 references of the MLP activations and their derivatives:
 * - gelu_new (HF NewGELUActivation): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
 * - SwiGLU gating (Llama MLP): h = silu(gate)·up, silu(g) = g·σ(g)
 * - ReLU and Tanh (the prompt encoders of P-tuning and prefix tuning), backward from the forward's output y
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

export function reluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => Math.max(v, 0));
}

/** dx = dy where y = relu(x) > 0, else 0 (PyTorch's threshold_backward: 0 at x = 0). */
export function reluBackwardRef(dy: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  sameLength('reluBackwardRef', ['dy', 'y'], [dy, y]);
  return Float64Array.from(y, (v, i) => (v > 0 ? dy[i] : 0));
}

export function tanhRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, Math.tanh);
}

/** dx = dy·(1 − y²), y = tanh(x). */
export function tanhBackwardRef(dy: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  sameLength('tanhBackwardRef', ['dy', 'y'], [dy, y]);
  return Float64Array.from(y, (v, i) => dy[i] * (1 - v * v));
}
