/**
 * The transformer's non-linear pieces as tape ops, each with its hand-derived backward, in float64:
 * LayerNorm, RMSNorm, gelu_new, SiLU, rotary position embedding, masked causal attention and the shifted
 * cross-entropy of causal language modelling. Norm weights and biases are frozen constants.
 */
import { gradOf, type Tape, type Var } from './tape';

/** LayerNorm over each row (biased variance, as torch): y = (x − μ)/√(σ² + eps)·w + b. */
export function layerNorm(t: Tape, x: Var, w: ArrayLike<number>, b: ArrayLike<number>, eps: number): Var {
  const M = x.rows;
  const D = x.cols;
  if (w.length !== D || b.length !== D) throw new RangeError(`layerNorm: weight/bias must have ${D} elements, got ${w.length}/${b.length}`);
  const y = new Float64Array(M * D);
  const xhat = new Float64Array(M * D);
  const rstd = new Float64Array(M);
  for (let m = 0; m < M; m++) {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += x.data[m * D + i];
    mean /= D;
    let v = 0;
    for (let i = 0; i < D; i++) {
      const c = x.data[m * D + i] - mean;
      v += c * c;
    }
    v /= D;
    const r = 1 / Math.sqrt(v + eps);
    rstd[m] = r;
    for (let i = 0; i < D; i++) {
      const h = (x.data[m * D + i] - mean) * r;
      xhat[m * D + i] = h;
      y[m * D + i] = h * w[i] + b[i];
    }
  }
  return t.record([x], y, M, D, (dy) => {
    const g = gradOf(x);
    for (let m = 0; m < M; m++) {
      // dx = rstd · (dĥ − mean(dĥ) − ĥ · mean(dĥ ⊙ ĥ)), dĥ = dy ⊙ w
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < D; i++) {
        const dh = dy[m * D + i] * w[i];
        s1 += dh;
        s2 += dh * xhat[m * D + i];
      }
      s1 /= D;
      s2 /= D;
      for (let i = 0; i < D; i++) {
        const dh = dy[m * D + i] * w[i];
        g[m * D + i] += rstd[m] * (dh - s1 - xhat[m * D + i] * s2);
      }
    }
  });
}

/** RMSNorm over each row (Llama): y = x / √(mean(x²) + eps) · w. */
export function rmsNorm(t: Tape, x: Var, w: ArrayLike<number>, eps: number): Var {
  const M = x.rows;
  const D = x.cols;
  if (w.length !== D) throw new RangeError(`rmsNorm: weight must have ${D} elements, got ${w.length}`);
  const y = new Float64Array(M * D);
  const rinv = new Float64Array(M);
  for (let m = 0; m < M; m++) {
    let ss = 0;
    for (let i = 0; i < D; i++) ss += x.data[m * D + i] * x.data[m * D + i];
    const r = 1 / Math.sqrt(ss / D + eps);
    rinv[m] = r;
    for (let i = 0; i < D; i++) y[m * D + i] = x.data[m * D + i] * r * w[i];
  }
  return t.record([x], y, M, D, (dy) => {
    const g = gradOf(x);
    for (let m = 0; m < M; m++) {
      // y_i = x_i·r·w_i, r = (mean(x²) + eps)^(−1/2), ∂r/∂x_j = −r³·x_j/D
      const r = rinv[m];
      let dot = 0;
      for (let i = 0; i < D; i++) dot += dy[m * D + i] * w[i] * x.data[m * D + i];
      for (let i = 0; i < D; i++) {
        g[m * D + i] += r * dy[m * D + i] * w[i] - (r * r * r * x.data[m * D + i] * dot) / D;
      }
    }
  });
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** gelu_new (GPT-2's tanh approximation): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluNew(t: Tape, x: Var): Var {
  const y = new Float64Array(x.data.length);
  for (let i = 0; i < y.length; i++) {
    const v = x.data[i];
    y[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v)));
  }
  return t.record([x], y, x.rows, x.cols, (dy) => {
    const g = gradOf(x);
    for (let i = 0; i < dy.length; i++) {
      const v = x.data[i];
      const th = Math.tanh(GELU_C * (v + 0.044715 * v * v * v));
      const d = 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * GELU_C * (1 + 3 * 0.044715 * v * v);
      g[i] += dy[i] * d;
    }
  });
}

/** SiLU: x·σ(x). */
export function silu(t: Tape, x: Var): Var {
  const y = new Float64Array(x.data.length);
  for (let i = 0; i < y.length; i++) y[i] = x.data[i] / (1 + Math.exp(-x.data[i]));
  return t.record([x], y, x.rows, x.cols, (dy) => {
    const g = gradOf(x);
    for (let i = 0; i < dy.length; i++) {
      const s = 1 / (1 + Math.exp(-x.data[i]));
      g[i] += dy[i] * s * (1 + x.data[i] * (1 - s));
    }
  });
}

/** RoPE inverse frequencies: inv_freq_i = θ^(−2i/hd) for i < hd/2 (HF computes these in float32). */
export function ropeInvFreq(headDim: number, theta: number): Float64Array {
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2 !== 0) throw new RangeError(`rope: head_dim must be a positive even integer, got ${headDim}`);
  const half = headDim / 2;
  const f = new Float64Array(half);
  for (let i = 0; i < half; i++) f[i] = Math.pow(theta, (-2 * i) / headDim);
  return f;
}

/**
 * HF's rotate-half RoPE on one head vector `x[off .. off + hd)` at position `pos`, into `y` (may be x):
 * y = x·cos + rotate_half(x)·sin, cos/sin duplicated over both halves, rotate_half(x) = [−x2, x1].
 * With `inverse` it applies the transpose (the backward): dx = dy·cos + rotate_halfᵀ(dy·sin).
 */
export function rotateHead(
  x: ArrayLike<number>,
  y: Float64Array,
  off: number,
  hd: number,
  pos: number,
  invFreq: ArrayLike<number>,
  inverse = false,
): void {
  const half = hd / 2;
  for (let i = 0; i < half; i++) {
    const ang = pos * invFreq[i];
    const c = Math.cos(ang);
    const s = inverse ? -Math.sin(ang) : Math.sin(ang);
    const x1 = x[off + i];
    const x2 = x[off + i + half];
    y[off + i] = x1 * c - x2 * s;
    y[off + i + half] = x2 * c + x1 * s;
  }
}

/** RoPE on x [B·T, nHeads·hd]: row m = b·T + t is at position t. */
export function rope(t: Tape, x: Var, T: number, nHeads: number, hd: number, theta: number): Var {
  if (x.cols !== nHeads * hd) throw new RangeError(`rope: x has ${x.cols} columns, expected ${nHeads}·${hd}`);
  if (x.rows % T !== 0) throw new RangeError(`rope: ${x.rows} rows is not a multiple of T = ${T}`);
  const invFreq = ropeInvFreq(hd, theta);
  const y = new Float64Array(x.data.length);
  for (let m = 0; m < x.rows; m++) {
    for (let h = 0; h < nHeads; h++) rotateHead(x.data, y, m * x.cols + h * hd, hd, m % T, invFreq);
  }
  return t.record([x], y, x.rows, x.cols, (dy) => {
    const g = gradOf(x);
    const tmp = new Float64Array(dy.length);
    for (let m = 0; m < x.rows; m++) {
      for (let h = 0; h < nHeads; h++) rotateHead(dy, tmp, m * x.cols + h * hd, hd, m % T, invFreq, true);
    }
    for (let i = 0; i < g.length; i++) g[i] += tmp[i];
  });
}

export interface AttentionShape {
  B: number;
  T: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** keyMask[b][j] = 0 masks key j of row b out (padding); null keeps all keys. */
  keyMask: number[][] | null;
}

/**
 * Causal softmax attention with grouped-query heads. q [B·T, H·hd], k and v [B·T, KV·hd]; query head h reads
 * kv head ⌊h / (H/KV)⌋; query t sees keys j ≤ t whose mask is not 0; scores scaled by 1/√hd. A query with no
 * visible key outputs zeros. Output [B·T, H·hd].
 */
export function causalAttention(t: Tape, q: Var, k: Var, v: Var, s: AttentionShape): Var {
  const { B, T, numHeads: H, numKvHeads: KV, headDim: hd, keyMask } = s;
  const M = B * T;
  const qc = H * hd;
  const kc = KV * hd;
  if (q.rows !== M || k.rows !== M || v.rows !== M || q.cols !== qc || k.cols !== kc || v.cols !== kc) {
    throw new RangeError(
      `causalAttention: expected q [${M}, ${qc}], k and v [${M}, ${kc}], got [${q.rows}, ${q.cols}], [${k.rows}, ${k.cols}], [${v.rows}, ${v.cols}]`,
    );
  }
  if (H % KV !== 0) throw new RangeError(`causalAttention: ${H} heads is not a multiple of ${KV} kv heads`);
  const rep = H / KV;
  const sc = 1 / Math.sqrt(hd);
  const visible = (b: number, i: number, j: number) => j <= i && (keyMask === null || keyMask[b][j] !== 0);
  // probs[((b·H + h)·T + i)·T + j]
  const probs = new Float64Array(B * H * T * T);
  const out = new Float64Array(M * qc);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / rep);
      for (let i = 0; i < T; i++) {
        const pRow = ((b * H + h) * T + i) * T;
        const qOff = (b * T + i) * qc + h * hd;
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          if (!visible(b, i, j)) continue;
          const kOff = (b * T + j) * kc + kh * hd;
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q.data[qOff + d] * k.data[kOff + d];
          probs[pRow + j] = dot * sc;
          if (probs[pRow + j] > max) max = probs[pRow + j];
        }
        if (max === -Infinity) continue; // no visible key: probabilities and output stay 0
        let sum = 0;
        for (let j = 0; j < T; j++) {
          if (!visible(b, i, j)) continue;
          const e = Math.exp(probs[pRow + j] - max);
          probs[pRow + j] = e;
          sum += e;
        }
        for (let j = 0; j < T; j++) {
          if (!visible(b, i, j)) continue;
          const p = probs[pRow + j] / sum;
          probs[pRow + j] = p;
          const vOff = (b * T + j) * kc + kh * hd;
          for (let d = 0; d < hd; d++) out[qOff + d] += p * v.data[vOff + d];
        }
      }
    }
  }
  return t.record([q, k, v], out, M, qc, (dOut) => {
    const dq = gradOf(q);
    const dk = gradOf(k);
    const dv = gradOf(v);
    const dp = new Float64Array(T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / rep);
        for (let i = 0; i < T; i++) {
          const pRow = ((b * H + h) * T + i) * T;
          const qOff = (b * T + i) * qc + h * hd;
          // dP_ij = dO_i · v_j; dV_j += P_ij · dO_i; dS_ij = P_ij (dP_ij − Σ_l P_il dP_il)
          let pdp = 0;
          for (let j = 0; j < T; j++) {
            const p = probs[pRow + j];
            dp[j] = 0;
            if (p === 0) continue;
            const vOff = (b * T + j) * kc + kh * hd;
            let s2 = 0;
            for (let d = 0; d < hd; d++) {
              s2 += dOut[qOff + d] * v.data[vOff + d];
              dv[vOff + d] += p * dOut[qOff + d];
            }
            dp[j] = s2;
            pdp += p * s2;
          }
          for (let j = 0; j < T; j++) {
            const p = probs[pRow + j];
            if (p === 0) continue;
            const ds = p * (dp[j] - pdp) * sc;
            const kOff = (b * T + j) * kc + kh * hd;
            for (let d = 0; d < hd; d++) {
              dq[qOff + d] += ds * k.data[kOff + d];
              dk[kOff + d] += ds * q.data[qOff + d];
            }
          }
        }
      }
    }
  });
}

/**
 * Causal LM cross-entropy as transformers' ForCausalLMLoss: logits [B·T, V] at position t predict
 * labels[b][t + 1]; labels −100 are ignored; the mean is over the counted tokens. Output [1, 1].
 */
export function shiftedCrossEntropy(t: Tape, logits: Var, B: number, T: number, labels: number[][]): Var {
  const V = logits.cols;
  if (logits.rows !== B * T) throw new RangeError(`shiftedCrossEntropy: logits have ${logits.rows} rows, expected B·T = ${B * T}`);
  const targets: { m: number; y: number }[] = [];
  for (let b = 0; b < B; b++) {
    for (let tt = 0; tt + 1 < T; tt++) {
      const y = labels[b][tt + 1];
      if (y !== -100) targets.push({ m: b * T + tt, y });
    }
  }
  if (targets.length === 0) {
    throw new RangeError('shiftedCrossEntropy: every label after the first position is -100, so no token is counted and the mean loss is undefined');
  }
  const n = targets.length;
  const soft = new Float64Array(n * V);
  let total = 0;
  targets.forEach(({ m, y }, idx) => {
    let max = -Infinity;
    for (let c = 0; c < V; c++) max = Math.max(max, logits.data[m * V + c]);
    let sum = 0;
    for (let c = 0; c < V; c++) sum += Math.exp(logits.data[m * V + c] - max);
    const lse = max + Math.log(sum);
    total += lse - logits.data[m * V + y];
    for (let c = 0; c < V; c++) soft[idx * V + c] = Math.exp(logits.data[m * V + c] - lse);
  });
  return t.record([logits], Float64Array.of(total / n), 1, 1, (dy) => {
    const g = gradOf(logits);
    targets.forEach(({ m, y }, idx) => {
      for (let c = 0; c < V; c++) g[m * V + c] += (dy[0] * (soft[idx * V + c] - (c === y ? 1 : 0))) / n;
    });
  });
}
