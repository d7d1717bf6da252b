/**
 * The transformer's operations as tape ops, for the float64 reference model. Each one is a thin wrapper: the
 * forward and the backward are the float64 kernel references in src/kernels/reference (the same functions the
 * GPU kernels are tested against, each with its own finite-difference check), so the math exists once.
 * Frozen weights (norms, W0, embedding tables) are constants; only activations and adapter parameters live on
 * the tape.
 */
import { pointwiseBackwardRef, pointwiseRef, swigluBackwardRef, swigluRef, type PointwiseFn } from '../../kernels/reference/activations';
import { biLstmBackwardRef, biLstmRef, type BiLstmWeights } from '../../kernels/reference/lstm';
import { attentionBackwardRef, attentionForwardRef } from '../../kernels/reference/attention';
import { crossEntropyRef } from '../../kernels/reference/cross-entropy';
import { matmulAtB, matmulDyW, matmulXWt } from '../../kernels/reference/matmul';
import { layerNormBackwardRef, layerNormRef, rmsNormBackwardRef, rmsNormRef } from '../../kernels/reference/norms';
import { ropeBackwardRef, ropeRef } from '../../kernels/reference/rope';
import type { WeightLayout } from '../architecture';
import { add, gradOf, type Tape, type Var } from './tape';

function addInto(g: Float64Array, d: ArrayLike<number>): void {
  for (let i = 0; i < g.length; i++) g[i] += d[i];
}

/** LayerNorm over each row (biased variance, as torch): y = (x − μ)/√(σ² + eps)·w + b. */
export function layerNorm(t: Tape, x: Var, weight: ArrayLike<number>, bias: ArrayLike<number>, eps: number): Var {
  const shape = { M: x.rows, d: x.cols, weight, eps };
  const { y } = layerNormRef({ x: x.data, ...shape, bias });
  return t.record([x], y, x.rows, x.cols, (dy) => addInto(gradOf(x), layerNormBackwardRef({ x: x.data, ...shape, dy })));
}

/** RMSNorm over each row (Llama): y = x / √(mean(x²) + eps) · w. */
export function rmsNorm(t: Tape, x: Var, weight: ArrayLike<number>, eps: number): Var {
  const shape = { M: x.rows, d: x.cols, weight, eps };
  const { y } = rmsNormRef({ x: x.data, ...shape });
  return t.record([x], y, x.rows, x.cols, (dy) => addInto(gradOf(x), rmsNormBackwardRef({ x: x.data, ...shape, dy })));
}

/** A pointwise activation by transformers' ACT2FN name (gelu_new: GPT-2's MLP). */
export function activation(t: Tape, fn: PointwiseFn, x: Var): Var {
  return t.record([x], pointwiseRef(fn, x.data), x.rows, x.cols, (dy) => addInto(gradOf(x), pointwiseBackwardRef(fn, dy, x.data)));
}

/** SwiGLU gating of the Llama MLP: silu(gate) ⊙ up. */
export function swiglu(t: Tape, gate: Var, up: Var): Var {
  if (gate.rows !== up.rows || gate.cols !== up.cols) throw new RangeError(`swiglu: gate [${gate.rows}, ${gate.cols}] and up [${up.rows}, ${up.cols}] differ`);
  return t.record([gate, up], swigluRef(gate.data, up.data), gate.rows, gate.cols, (dh) => {
    const { dGate, dUp } = swigluBackwardRef(dh, gate.data, up.data);
    if (gate.requiresGrad) addInto(gradOf(gate), dGate);
    if (up.requiresGrad) addInto(gradOf(up), dUp);
  });
}

/** HF's rotate-half RoPE on x [M, heads·hd], row m at position positions[m]. */
export function rope(t: Tape, x: Var, positions: ArrayLike<number>, heads: number, headDim: number, theta: number): Var {
  const p = { M: x.rows, heads, headDim, positions, theta };
  return t.record([x], ropeRef({ x: x.data, ...p }), x.rows, x.cols, (dy) => addInto(gradOf(x), ropeBackwardRef({ ...p, dy })));
}

export interface AttentionShape {
  batch: number;
  /** Queries per sequence. */
  seqLen: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** [B·(P + T)]: 0 masks a key out (padding); null keeps every key. */
  keyMask: ArrayLike<number> | null;
  /** P: key/value rows in front of each sequence (prefix tuning); 0 for none. */
  prefixLength: number;
}

/**
 * Causal softmax attention with grouped-query heads, scale 1/√hd: q [B·T, H·hd]; k and v [B·(P+T), KV·hd] with
 * each sequence's P prefix rows first. See kernels/reference/attention.ts.
 */
export function attention(t: Tape, q: Var, k: Var, v: Var, s: AttentionShape): Var {
  const p = {
    batch: s.batch, seqLen: s.seqLen, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim,
    scale: 1 / Math.sqrt(s.headDim), keyMask: s.keyMask, prefixLength: s.prefixLength,
  };
  const { out } = attentionForwardRef({ ...p, q: q.data, k: k.data, v: v.data });
  return t.record([q, k, v], out, q.rows, q.cols, (dOut) => {
    const g = attentionBackwardRef({ ...p, q: q.data, k: k.data, v: v.data, dOut });
    if (q.requiresGrad) addInto(gradOf(q), g.dq);
    if (k.requiresGrad) addInto(gradOf(k), g.dk);
    if (v.requiresGrad) addInto(gradOf(v), g.dv);
  });
}

/** x[M, K] · w[N, K]ᵀ → [M, N], with gradients to both (an adapter's products). */
export function matmulNT(t: Tape, x: Var, w: Var): Var {
  if (x.cols !== w.cols) throw new RangeError(`matmulNT: inner sizes differ, x is [${x.rows}, ${x.cols}], w is [${w.rows}, ${w.cols}]`);
  const M = x.rows;
  const K = x.cols;
  const N = w.rows;
  return t.record([x, w], matmulXWt(x.data, M, K, w.data, N), M, N, (dy) => {
    if (x.requiresGrad) addInto(gradOf(x), matmulDyW(dy, M, N, w.data, K));
    if (w.requiresGrad) addInto(gradOf(w), matmulAtB(dy, M, N, x.data, K));
  });
}

/** A weight in nn.Linear orientation [N, K], transposing a Conv1D weight [K, N]. */
export function linearOrientation(w: ArrayLike<number>, layout: WeightLayout, N: number, K: number): ArrayLike<number> {
  if (layout === 'linear') return w;
  const out = new Float64Array(N * K);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) out[n * K + k] = w[k * N + n];
  return out;
}

/**
 * A frozen linear layer: y[M, N] = x[M, K]·Wᵀ + b, W given in nn.Linear orientation [N, K] (see
 * linearOrientation). The gradient flows to x only.
 */
export function frozenLinear(t: Tape, x: Var, w: ArrayLike<number>, N: number, bias: ArrayLike<number> | null): Var {
  const M = x.rows;
  const K = x.cols;
  const y = matmulXWt(x.data, M, K, w, N);
  if (bias !== null) {
    if (bias.length !== N) throw new RangeError(`frozenLinear: bias has ${bias.length} elements, expected ${N}`);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) y[m * N + n] += bias[n];
  }
  return t.record([x], y, M, N, (dy) => addInto(gradOf(x), matmulDyW(dy, M, N, w, K)));
}

/**
 * The causal LM loss over logits [M, V] and shifted targets [M] (−100 ignored): the mean cross-entropy over the
 * counted targets, as transformers' ForCausalLMLoss. Output [1, 1].
 */
export function crossEntropy(t: Tape, logits: Var, targets: ArrayLike<number>): Var {
  const M = logits.rows;
  const V = logits.cols;
  const r = crossEntropyRef({ logits: logits.data, M, V, targets });
  if (r.count === 0) {
    throw new RangeError('crossEntropy: every label after the first position is -100, so no token is counted and the mean loss is undefined');
  }
  return t.record([logits], Float64Array.of(r.loss), 1, 1, (dy) => {
    const g = gradOf(logits);
    for (let i = 0; i < g.length; i++) g[i] += dy[0] * r.dLogits[i];
  });
}

/** A trainable linear layer (torch.nn.Linear): x [M, in]·Wᵀ + b, W [out, in] and b [out, 1] on the tape. */
export function linear(t: Tape, x: Var, weight: Var, bias: Var): Var {
  const ones = t.constant(new Float64Array(x.rows).fill(1), x.rows, 1);
  return add(t, matmulNT(t, x, weight), matmulNT(t, ones, bias));
}

/** One LSTM direction's weights on the tape, PyTorch's layout: W_ih [4h, in], W_hh [4h, h], b_ih and b_hh [4h, 1]. */
export interface LstmVars {
  wIh: Var;
  wHh: Var;
  bIh: Var;
  bHh: Var;
}

/**
 * torch.nn.LSTM(bidirectional=True, batch_first=True) over x [n, in] as one sequence: [n, 2h] (see
 * kernels/reference/lstm.ts), with gradients to x and every weight; dropout between layers when given.
 */
export function biLstm(t: Tape, x: Var, layers: readonly { forward: LstmVars; reverse: LstmVars }[], hidden: number, dropout: { p: number; seed: number } | null): Var {
  const weights: BiLstmWeights = layers.map((l) => ({
    forward: { wIh: l.forward.wIh.data, wHh: l.forward.wHh.data, bIh: l.forward.bIh.data, bHh: l.forward.bHh.data },
    reverse: { wIh: l.reverse.wIh.data, wHh: l.reverse.wHh.data, bIh: l.reverse.bIh.data, bHh: l.reverse.bHh.data },
  }));
  const args = { x: x.data, n: x.rows, inputSize: x.cols, hidden, layers: weights, dropout };
  const saved = biLstmRef(args);
  const inputs = [x, ...layers.flatMap((l) => [l.forward, l.reverse].flatMap((d) => [d.wIh, d.wHh, d.bIh, d.bHh]))];
  return t.record(inputs, saved.out, x.rows, 2 * hidden, (dy) => {
    const g = biLstmBackwardRef(args, saved, dy);
    if (x.requiresGrad) addInto(gradOf(x), g.dx);
    layers.forEach((l, k) => {
      for (const dir of ['forward', 'reverse'] as const) {
        const v = l[dir];
        const d = g.layers[k][dir];
        for (const [param, grad] of [[v.wIh, d.wIh], [v.wHh, d.wHh], [v.bIh, d.bIh], [v.bHh, d.bHh]] as const) {
          if (param.requiresGrad) addInto(gradOf(param), grad);
        }
      }
    });
  });
}
