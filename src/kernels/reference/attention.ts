/**
 * Float64 reference of causal multi-head attention with grouped-query heads, as the projections lay it out
 * (row-major per token, M = B·T): q [M, H·hd], k [M, KV·hd], v [M, KV·hd]; query head h reads columns
 * h·hd .. h·hd + hd − 1 of q and kv head ⌊h / (H/KV)⌋ of k and v.
 *
 *   s_ij = scale · q_i·k_j     for j ≤ i in the same sequence with keyMask[j] ≠ 0 (the keys query i sees)
 *   P_i  = softmax_j(s_ij)     (0 for the other keys; a query that sees no key gets P_i = 0 and out_i = 0)
 *   out_i = Σ_j P_ij · v_j
 *   lse_i = log Σ_j exp(s_ij) over the keys query i sees, so that P_ij = exp(s_ij − lse_i) (what the GPU forward
 *           saves for its backward, which recomputes P from it; ATTENTION_NO_KEYS_LSE for a query with no key)
 *
 * Backward (L with dL/dout = dOut):
 *   dP_ij = dOut_i·v_j,  dS_ij = P_ij (dP_ij − Σ_j' P_ij' dP_ij')
 *   dq_i = scale Σ_j dS_ij k_j;  dk_j = scale Σ_{h in group} Σ_i dS_ij q_i;  dv_j = Σ_{h in group} Σ_i P_ij dOut_i
 *
 * With a key prefix of length P (prefix tuning), k and v hold P + T rows per sequence, the P prefix rows first:
 * query i sits at key position P + i and sees keys j ≤ P + i; probs are [B, H, T, P + T], lse [B, H, T].
 *
 * Decoding reads k and v from caches [B, maxT, KV·hd]; new token t of a step sits at position pastLen + t and
 * sees cache positions 0 ..= pastLen + t.
 */
import { assertPositiveInt } from './matmul';

/**
 * lse of a query that sees no key: the largest f32. The log of its empty sum would be −∞; this stands for +∞
 * instead (as FlashAttention stores for such a row), so that exp(s − lse) = 0 for every score: the same P = 0
 * the forward gives that query.
 */
export const ATTENTION_NO_KEYS_LSE = 3.4028234663852886e38;

export interface AttentionDims {
  batch: number;
  seqLen: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  scale: number;
}

export interface AttentionForwardParams extends AttentionDims {
  q: ArrayLike<number>;
  k: ArrayLike<number>;
  v: ArrayLike<number>;
  /** [B·(P + T)]: 1 for a real token, 0 for padding (excluded as a key); null or absent: every key is real. */
  keyMask?: ArrayLike<number> | null;
  /** P: key/value rows in front of each sequence's T (a prefix every query sees); 0 when absent. */
  prefixLength?: number;
}

export interface AttentionForwardResult {
  /** [B·T, H·hd] */
  out: Float64Array;
  /** [B, H, T, P + T] softmax probabilities (0 where a key is not seen). */
  probs: Float64Array;
  /** [B, H, T] log-sum-exp of each query's scaled visible scores (ATTENTION_NO_KEYS_LSE where it sees none). */
  lse: Float64Array;
}

export interface AttentionBackwardParams extends AttentionForwardParams {
  /** dL/dout [B·T, H·hd]. */
  dOut: ArrayLike<number>;
}

export interface AttentionBackwardResult {
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
}

export interface AttentionDecodeParams {
  /** [B·newTokens, H·hd] */
  q: ArrayLike<number>;
  /** [B, maxT, KV·hd], valid up to position pastLen + newTokens − 1 */
  kCache: ArrayLike<number>;
  vCache: ArrayLike<number>;
  batch: number;
  newTokens: number;
  pastLen: number;
  maxT: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  scale: number;
}

function assertSize(fn: string, name: string, arr: ArrayLike<number>, dims: string, expected: number): void {
  if (arr.length !== expected) throw new RangeError(`${fn}: ${name} has ${arr.length} elements, expected ${dims} = ${expected}`);
}

/** Validates the head counts; returns the number of query heads per kv head. */
export function attentionGroupSize(fn: string, heads: number, kvHeads: number, headDim: number): number {
  assertPositiveInt(fn, 'heads', heads);
  assertPositiveInt(fn, 'kvHeads', kvHeads);
  assertPositiveInt(fn, 'headDim', headDim);
  if (heads % kvHeads !== 0) {
    throw new RangeError(`${fn}: heads (${heads}) must be a multiple of kvHeads (${kvHeads}) for grouped-query attention`);
  }
  return heads / kvHeads;
}

/** Validates the shapes; returns the prefix length P. */
function validate(fn: string, p: AttentionForwardParams): number {
  assertPositiveInt(fn, 'batch', p.batch);
  assertPositiveInt(fn, 'seqLen', p.seqLen);
  attentionGroupSize(fn, p.heads, p.kvHeads, p.headDim);
  if (!Number.isFinite(p.scale)) throw new RangeError(`${fn}: scale must be finite, got ${p.scale}`);
  const P = p.prefixLength ?? 0;
  if (!Number.isInteger(P) || P < 0) throw new RangeError(`${fn}: prefixLength must be an integer ≥ 0, got ${P}`);
  const M = p.batch * p.seqLen;
  const keys = p.batch * (P + p.seqLen);
  assertSize(fn, 'q', p.q, 'B·T·H·hd', M * p.heads * p.headDim);
  const rows = P > 0 ? 'B·(P+T)' : 'B·T';
  assertSize(fn, 'k', p.k, `${rows}·KV·hd`, keys * p.kvHeads * p.headDim);
  assertSize(fn, 'v', p.v, `${rows}·KV·hd`, keys * p.kvHeads * p.headDim);
  if (p.keyMask) assertSize(fn, 'keyMask', p.keyMask, rows, keys);
  return P;
}

/**
 * One query row: probabilities over `keys` candidate positions (written to pRow) and the output (to out at
 * outOffset); returns its lse. `kvOffset(j)` / `seen(j)` give key position j's row offset in k/v and whether it
 * may be seen.
 */
function attendRow(
  q: ArrayLike<number>, qOffset: number,
  k: ArrayLike<number>, v: ArrayLike<number>, kvOffset: (j: number) => number, seen: (j: number) => boolean,
  keys: number, hd: number, scale: number,
  pRow: Float64Array, out: Float64Array, outOffset: number,
): number {
  let max = -Infinity;
  for (let j = 0; j < keys; j++) {
    if (!seen(j)) continue;
    let dot = 0;
    const kr = kvOffset(j);
    for (let d = 0; d < hd; d++) dot += q[qOffset + d] * k[kr + d];
    pRow[j] = scale * dot;
    max = Math.max(max, pRow[j]);
  }
  let sum = 0;
  for (let j = 0; j < keys; j++) {
    pRow[j] = seen(j) ? Math.exp(pRow[j] - max) : 0;
    sum += pRow[j];
  }
  for (let j = 0; j < keys; j++) pRow[j] = sum > 0 ? pRow[j] / sum : 0;
  for (let d = 0; d < hd; d++) {
    let acc = 0;
    for (let j = 0; j < keys; j++) acc += pRow[j] * v[kvOffset(j) + d];
    out[outOffset + d] = acc;
  }
  return sum > 0 ? max + Math.log(sum) : ATTENTION_NO_KEYS_LSE;
}

export function attentionForwardRef(p: AttentionForwardParams): AttentionForwardResult {
  const P = validate('attentionForwardRef', p);
  const { batch: B, seqLen: T, heads: H, kvHeads: KV, headDim: hd } = p;
  const S = P + T; // keys per sequence
  const group = H / KV;
  const qW = H * hd;
  const kvW = KV * hd;
  const out = new Float64Array(B * T * qW);
  const probs = new Float64Array(B * H * T * S);
  const lse = new Float64Array(B * H * T);
  const mask = p.keyMask ?? null;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group);
      const kvOffset = (j: number) => (b * S + j) * kvW + g * hd;
      const seen = (j: number) => mask === null || mask[b * S + j] !== 0;
      for (let i = 0; i < T; i++) {
        const pRow = probs.subarray(((b * H + h) * T + i) * S, ((b * H + h) * T + i + 1) * S);
        lse[(b * H + h) * T + i] = attendRow(p.q, (b * T + i) * qW + h * hd, p.k, p.v, kvOffset, seen, P + i + 1, hd, p.scale, pRow, out, (b * T + i) * qW + h * hd);
      }
    }
  }
  return { out, probs, lse };
}

export function attentionBackwardRef(p: AttentionBackwardParams): AttentionBackwardResult {
  const fn = 'attentionBackwardRef';
  const P = validate(fn, p);
  const { batch: B, seqLen: T, heads: H, kvHeads: KV, headDim: hd, scale } = p;
  assertSize(fn, 'dOut', p.dOut, 'B·T·H·hd', B * T * H * hd);
  const { probs } = attentionForwardRef(p);
  const S = P + T;
  const group = H / KV;
  const qW = H * hd;
  const kvW = KV * hd;
  const dq = new Float64Array(B * T * qW);
  const dk = new Float64Array(B * S * kvW);
  const dv = new Float64Array(B * S * kvW);
  const dS = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group);
      for (let i = 0; i < T; i++) {
        const pRow = probs.subarray(((b * H + h) * T + i) * S);
        const o = (b * T + i) * qW + h * hd;
        // dP_ij = dOut_i·v_j; dS_ij = P_ij (dP_ij − Σ P dP)
        let rowDot = 0;
        for (let j = 0; j <= P + i; j++) {
          let dp = 0;
          for (let d = 0; d < hd; d++) dp += p.dOut[o + d] * p.v[(b * S + j) * kvW + g * hd + d];
          dS[j] = dp;
          rowDot += pRow[j] * dp;
        }
        for (let j = 0; j <= P + i; j++) {
          dS[j] = pRow[j] * (dS[j] - rowDot);
          const kv = (b * S + j) * kvW + g * hd;
          for (let d = 0; d < hd; d++) {
            dq[o + d] += scale * dS[j] * p.k[kv + d];
            dk[kv + d] += scale * dS[j] * p.q[o + d];
            dv[kv + d] += pRow[j] * p.dOut[o + d];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

/** Attention of new tokens over a KV cache (see the module comment). Returns out [B·newTokens, H·hd]. */
export function attentionDecodeRef(p: AttentionDecodeParams): Float64Array {
  const fn = 'attentionDecodeRef';
  assertPositiveInt(fn, 'batch', p.batch);
  assertPositiveInt(fn, 'newTokens', p.newTokens);
  assertPositiveInt(fn, 'maxT', p.maxT);
  if (!Number.isInteger(p.pastLen) || p.pastLen < 0) throw new RangeError(`${fn}: pastLen must be an integer ≥ 0, got ${p.pastLen}`);
  if (p.pastLen + p.newTokens > p.maxT) {
    throw new RangeError(`${fn}: pastLen + newTokens = ${p.pastLen} + ${p.newTokens} exceeds the cache length maxT = ${p.maxT}`);
  }
  const group = attentionGroupSize(fn, p.heads, p.kvHeads, p.headDim);
  const { batch: B, newTokens: N, maxT, heads: H, kvHeads: KV, headDim: hd } = p;
  const qW = H * hd;
  const kvW = KV * hd;
  assertSize(fn, 'q', p.q, 'B·newTokens·H·hd', B * N * qW);
  assertSize(fn, 'kCache', p.kCache, 'B·maxT·KV·hd', B * maxT * kvW);
  assertSize(fn, 'vCache', p.vCache, 'B·maxT·KV·hd', B * maxT * kvW);
  const out = new Float64Array(B * N * qW);
  const pRow = new Float64Array(maxT);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group);
      const kvOffset = (j: number) => (b * maxT + j) * kvW + g * hd;
      for (let t = 0; t < N; t++) {
        const o = (b * N + t) * qW + h * hd;
        attendRow(p.q, o, p.kCache, p.vCache, kvOffset, () => true, p.pastLen + t + 1, hd, p.scale, pRow, out, o);
      }
    }
  }
  return out;
}

/** Writes rows [B·newTokens, width] into a cache [B, maxT, width] at positions pastLen .. pastLen + newTokens − 1. */
export function kvCacheAppendRef(
  cache: Float64Array | Float32Array, rows: ArrayLike<number>, batch: number, newTokens: number, pastLen: number, maxT: number, width: number,
): void {
  if (pastLen + newTokens > maxT) {
    throw new RangeError(`kvCacheAppendRef: pastLen + newTokens = ${pastLen} + ${newTokens} exceeds the cache length maxT = ${maxT}`);
  }
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < newTokens; t++) {
      for (let c = 0; c < width; c++) cache[(b * maxT + pastLen + t) * width + c] = rows[(b * newTokens + t) * width + c];
    }
  }
}
