/**
 * Float64 reference of torch.nn.LSTM as P-tuning's PromptEncoder uses it: one sequence (batch 1), zero initial
 * states, num_layers layers, bidirectional, dropout between layers in training. PyTorch's equations, with the
 * four gates stacked along the rows of each weight in the order i, f, g, o:
 *   [i; f; g; o]_pre = x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh        W_ih [4h, in], W_hh [4h, h], b [4h]
 *   i = σ(i_pre), f = σ(f_pre), g = tanh(g_pre), o = σ(o_pre)
 *   c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
 * The reverse direction (weights `*_reverse`) runs t = n−1 … 0; "t − 1" is then the step after t. Output row t
 * of a layer is [h_fwd_t ; h_rev_t] (2h); layer k > 0 reads the previous layer's output, through dropout when
 * training (mask of element i of the [n, 2h] input: dropoutFactor(streamSeed(seed, k), i, p)).
 */
import { dropoutFactor, streamSeed } from '../dropout-mask';
import { sigmoid } from './activations';
import { assertLength, assertPositiveInt } from './matmul';

/** One direction of one layer, PyTorch's layout. */
export interface LstmWeights {
  /** [4h, in] */
  wIh: ArrayLike<number>;
  /** [4h, h] */
  wHh: ArrayLike<number>;
  /** [4h] */
  bIh: ArrayLike<number>;
  /** [4h] */
  bHh: ArrayLike<number>;
}

export interface LstmGrads {
  wIh: Float64Array;
  wHh: Float64Array;
  bIh: Float64Array;
  bHh: Float64Array;
}

export interface LstmDirectionArgs {
  /** [n, inputSize] */
  x: ArrayLike<number>;
  n: number;
  inputSize: number;
  hidden: number;
  weights: LstmWeights;
  /** The reverse direction: steps run t = n−1 … 0. */
  reverse: boolean;
}

/** What the forward of one direction gives and its backward needs. */
export interface LstmDirectionResult {
  /** [n, h]: h_t */
  out: Float64Array;
  /** [n, 4h]: i, f, g, o after their activations */
  gates: Float64Array;
  /** [n, h]: c_t */
  cell: Float64Array;
}

/** Time indices in the order a direction visits them. */
export function lstmStepOrder(n: number, reverse: boolean): number[] {
  return Array.from({ length: n }, (_, s) => (reverse ? n - 1 - s : s));
}

function checkDirection(fn: string, a: LstmDirectionArgs): void {
  assertPositiveInt(fn, 'n', a.n);
  assertPositiveInt(fn, 'inputSize', a.inputSize);
  assertPositiveInt(fn, 'hidden', a.hidden);
  const h = a.hidden;
  assertLength(fn, 'x', a.x, 'n', a.n, 'inputSize', a.inputSize);
  assertLength(fn, 'weight_ih', a.weights.wIh, '4h', 4 * h, 'in', a.inputSize);
  assertLength(fn, 'weight_hh', a.weights.wHh, '4h', 4 * h, 'h', h);
  assertLength(fn, 'bias_ih', a.weights.bIh, '4h', 4 * h, '1', 1);
  assertLength(fn, 'bias_hh', a.weights.bHh, '4h', 4 * h, '1', 1);
}

/** One direction of one layer over the whole sequence. */
export function lstmDirectionRef(a: LstmDirectionArgs): LstmDirectionResult {
  checkDirection('lstmDirectionRef', a);
  const { x, n, inputSize: K, hidden: h, weights: w } = a;
  const out = new Float64Array(n * h);
  const gates = new Float64Array(n * 4 * h);
  const cell = new Float64Array(n * h);
  let hPrev = new Float64Array(h);
  let cPrev = new Float64Array(h);
  for (const t of lstmStepOrder(n, a.reverse)) {
    const pre = new Float64Array(4 * h);
    for (let j = 0; j < 4 * h; j++) {
      let s = w.bIh[j] + w.bHh[j];
      for (let k = 0; k < K; k++) s += x[t * K + k] * w.wIh[j * K + k];
      for (let k = 0; k < h; k++) s += hPrev[k] * w.wHh[j * h + k];
      pre[j] = s;
    }
    const hNext = new Float64Array(h);
    const cNext = new Float64Array(h);
    for (let u = 0; u < h; u++) {
      const i = sigmoid(pre[u]);
      const f = sigmoid(pre[h + u]);
      const g = Math.tanh(pre[2 * h + u]);
      const o = sigmoid(pre[3 * h + u]);
      cNext[u] = f * cPrev[u] + i * g;
      hNext[u] = o * Math.tanh(cNext[u]);
      const row = t * 4 * h;
      gates[row + u] = i;
      gates[row + h + u] = f;
      gates[row + 2 * h + u] = g;
      gates[row + 3 * h + u] = o;
    }
    out.set(hNext, t * h);
    cell.set(cNext, t * h);
    hPrev = hNext;
    cPrev = cNext;
  }
  return { out, gates, cell };
}

export interface LstmDirectionBackward extends LstmGrads {
  /** [n, inputSize] */
  dx: Float64Array;
  /** [n, 4h]: gradient of the pre-activation gates (= of x·W_ihᵀ + b_ih) */
  dGates: Float64Array;
}

/**
 * Gradients of one direction given dOut = dL/dh_t [n, h] for every t (the final states get no gradient of their
 * own, as in P-tuning, which uses the output only).
 */
export function lstmDirectionBackwardRef(a: LstmDirectionArgs, saved: LstmDirectionResult, dOut: ArrayLike<number>): LstmDirectionBackward {
  const fn = 'lstmDirectionBackwardRef';
  checkDirection(fn, a);
  const { x, n, inputSize: K, hidden: h, weights: w } = a;
  assertLength(fn, 'dOut', dOut, 'n', n, 'h', h);
  const dGates = new Float64Array(n * 4 * h);
  const grads: LstmGrads = {
    wIh: new Float64Array(4 * h * K), wHh: new Float64Array(4 * h * h), bIh: new Float64Array(4 * h), bHh: new Float64Array(4 * h),
  };
  const dx = new Float64Array(n * K);
  const order = lstmStepOrder(n, a.reverse);
  const dhNext = new Float64Array(h);
  const dcNext = new Float64Array(h);
  for (let s = n - 1; s >= 0; s--) {
    const t = order[s];
    const tp = s > 0 ? order[s - 1] : -1;
    const G = saved.gates.subarray(t * 4 * h, (t + 1) * 4 * h);
    const dG = dGates.subarray(t * 4 * h, (t + 1) * 4 * h);
    for (let u = 0; u < h; u++) {
      const [i, f, g, o] = [G[u], G[h + u], G[2 * h + u], G[3 * h + u]];
      const c = saved.cell[t * h + u];
      const cPrev = tp >= 0 ? saved.cell[tp * h + u] : 0;
      const tc = Math.tanh(c);
      const dh = dOut[t * h + u] + dhNext[u];
      const dc = dh * o * (1 - tc * tc) + dcNext[u];
      dG[u] = dc * g * i * (1 - i);
      dG[h + u] = dc * cPrev * f * (1 - f);
      dG[2 * h + u] = dc * i * (1 - g * g);
      dG[3 * h + u] = dh * tc * o * (1 - o);
      dcNext[u] = dc * f;
    }
    dhNext.fill(0);
    for (let j = 0; j < 4 * h; j++) {
      const d = dG[j];
      grads.bIh[j] += d;
      grads.bHh[j] += d;
      for (let k = 0; k < h; k++) {
        dhNext[k] += d * w.wHh[j * h + k];
        if (tp >= 0) grads.wHh[j * h + k] += d * saved.out[tp * h + k];
      }
      for (let k = 0; k < K; k++) {
        grads.wIh[j * K + k] += d * x[t * K + k];
        dx[t * K + k] += d * w.wIh[j * K + k];
      }
    }
  }
  return { ...grads, dx, dGates };
}

/** Weights of a bidirectional stack: per layer, both directions; layer 0 reads inputSize, later ones 2h. */
export type BiLstmWeights = readonly { forward: LstmWeights; reverse: LstmWeights }[];

export interface BiLstmArgs {
  /** [n, inputSize] */
  x: ArrayLike<number>;
  n: number;
  inputSize: number;
  hidden: number;
  layers: BiLstmWeights;
  /** Dropout on the input of every layer after the first; absent or null outside training. */
  dropout?: { p: number; seed: number } | null;
}

export interface BiLstmLayerSaved {
  /** [n, in_k]: the layer's input, after dropout */
  input: Float64Array;
  forward: LstmDirectionResult;
  reverse: LstmDirectionResult;
}

export interface BiLstmResult {
  /** [n, 2h]: [h_fwd_t ; h_rev_t] of the last layer */
  out: Float64Array;
  layers: BiLstmLayerSaved[];
}

/** Multipliers of the dropout on layer k's input [n, 2h] (k ≥ 1); all 1 without dropout. */
export function biLstmDropoutFactors(n: number, hidden: number, layer: number, dropout: BiLstmArgs['dropout']): Float64Array {
  const f = new Float64Array(n * 2 * hidden).fill(1);
  if (dropout && dropout.p > 0) {
    const seed = streamSeed(dropout.seed, layer);
    for (let i = 0; i < f.length; i++) f[i] = dropoutFactor(seed, i, dropout.p);
  }
  return f;
}

function interleave(n: number, h: number, a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(n * 2 * h);
  for (let t = 0; t < n; t++) {
    out.set(a.subarray(t * h, (t + 1) * h), t * 2 * h);
    out.set(b.subarray(t * h, (t + 1) * h), t * 2 * h + h);
  }
  return out;
}

function split(n: number, h: number, v: ArrayLike<number>): [Float64Array, Float64Array] {
  const a = new Float64Array(n * h);
  const b = new Float64Array(n * h);
  for (let t = 0; t < n; t++) {
    for (let u = 0; u < h; u++) {
      a[t * h + u] = v[t * 2 * h + u];
      b[t * h + u] = v[t * 2 * h + h + u];
    }
  }
  return [a, b];
}

function layerArgs(a: BiLstmArgs, k: number, input: Float64Array, w: LstmWeights, reverse: boolean): LstmDirectionArgs {
  return { x: input, n: a.n, inputSize: k === 0 ? a.inputSize : 2 * a.hidden, hidden: a.hidden, weights: w, reverse };
}

export function biLstmRef(a: BiLstmArgs): BiLstmResult {
  if (a.layers.length < 1) throw new RangeError('biLstmRef: at least one layer is needed');
  const { n, hidden: h } = a;
  const layers: BiLstmLayerSaved[] = [];
  let prev: Float64Array = Float64Array.from(a.x);
  for (let k = 0; k < a.layers.length; k++) {
    let input: Float64Array = prev;
    if (k > 0) {
      const mask = biLstmDropoutFactors(n, h, k, a.dropout);
      input = prev.map((v, i) => v * mask[i]);
    }
    const forward = lstmDirectionRef(layerArgs(a, k, input, a.layers[k].forward, false));
    const reverse = lstmDirectionRef(layerArgs(a, k, input, a.layers[k].reverse, true));
    layers.push({ input, forward, reverse });
    prev = interleave(n, h, forward.out, reverse.out);
  }
  return { out: prev, layers };
}

export interface BiLstmBackward {
  /** [n, inputSize] */
  dx: Float64Array;
  layers: { forward: LstmGrads; reverse: LstmGrads }[];
}

/** Gradients of the stack given dOut = dL/d(output) [n, 2h]. */
export function biLstmBackwardRef(a: BiLstmArgs, saved: BiLstmResult, dOut: ArrayLike<number>): BiLstmBackward {
  const { n, hidden: h } = a;
  assertLength('biLstmBackwardRef', 'dOut', dOut, 'n', n, '2h', 2 * h);
  const grads: { forward: LstmGrads; reverse: LstmGrads }[] = [];
  let d: ArrayLike<number> = dOut;
  for (let k = a.layers.length - 1; k >= 0; k--) {
    const s = saved.layers[k];
    const [dF, dR] = split(n, h, d);
    const f = lstmDirectionBackwardRef(layerArgs(a, k, s.input, a.layers[k].forward, false), s.forward, dF);
    const r = lstmDirectionBackwardRef(layerArgs(a, k, s.input, a.layers[k].reverse, true), s.reverse, dR);
    grads[k] = { forward: f, reverse: r };
    const dIn = f.dx.map((v, i) => v + r.dx[i]);
    if (k > 0) {
      const mask = biLstmDropoutFactors(n, h, k, a.dropout);
      d = dIn.map((v, i) => v * mask[i]);
    } else {
      d = dIn;
    }
  }
  return { dx: Float64Array.from(d), layers: grads.map((g) => ({ forward: pick(g.forward), reverse: pick(g.reverse) })) };
}

function pick(g: LstmGrads): LstmGrads {
  return { wIh: g.wIh, wHh: g.wHh, bIh: g.bIh, bHh: g.bHh };
}
