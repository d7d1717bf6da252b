/**
 * The float64 attention reference on its own: the backward against central differences (GQA, key padding, a
 * query with no visible key), the forward against a direct per-head computation, softmax rows, lse (P = exp(s −
 * lse), and ATTENTION_NO_KEYS_LSE for a query that sees no key), decode over a cache against the forward's rows,
 * and validation messages.
 */
import { describe, expect, it } from 'vitest';
import {
  ATTENTION_NO_KEYS_LSE, attentionBackwardRef, attentionDecodeRef, attentionForwardRef, kvCacheAppendRef, type AttentionDims,
} from '../src/kernels/reference/attention';
import { randomUniform } from '../src/util/random';
import { numericGrad } from './helpers/finite-difference';

function data(n: number, seed: number): Float64Array {
  return Float64Array.from(randomUniform(n, seed));
}

function expectNear(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-7): void {
  expect(got.length, `${name}: length`).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const allowed = tol * Math.max(1, Math.abs(want[i]));
    if (!(Math.abs(got[i] - want[i]) <= allowed)) throw new Error(`${name}[${i}]: ${got[i]} vs ${want[i]} (tol ${allowed})`);
  }
}

describe('attentionBackwardRef', () => {
  // B 2, T 4, H 4 over KV 2 (groups of 2), hd 3. Sequence 0 has a padded key in the middle; sequence 1 is
  // left padded, so its query 0 sees no key at all.
  const dims: AttentionDims = { batch: 2, seqLen: 4, heads: 4, kvHeads: 2, headDim: 3, scale: 0.7 };
  const keyMask = [1, 0, 1, 1, 0, 1, 1, 1];
  const M = dims.batch * dims.seqLen;
  const q = data(M * 4 * 3, 1);
  const k = data(M * 2 * 3, 2);
  const v = data(M * 2 * 3, 3);
  const dOut = data(M * 4 * 3, 4);

  it('matches central differences for q, k and v (GQA, key mask, a query with no key)', () => {
    const loss = () => {
      const { out } = attentionForwardRef({ ...dims, q, k, v, keyMask });
      let s = 0;
      for (let i = 0; i < out.length; i++) s += dOut[i] * out[i];
      return s;
    };
    const { dq, dk, dv } = attentionBackwardRef({ ...dims, q, k, v, keyMask, dOut });
    expectNear('dq', dq, numericGrad(q, loss));
    expectNear('dk', dk, numericGrad(k, loss));
    expectNear('dv', dv, numericGrad(v, loss));
    // Padded keys get no gradient; the query with no visible key gets zero gradient.
    for (const m of [1, 4]) for (let c = 0; c < 6; c++) { expect(dk[m * 6 + c]).toBe(0); expect(dv[m * 6 + c]).toBe(0); }
    for (let c = 0; c < 12; c++) expect(dq[4 * 12 + c]).toBe(0);
  });

  it('without a mask, matches central differences too (MHA, hd 2)', () => {
    const d2: AttentionDims = { batch: 1, seqLen: 3, heads: 2, kvHeads: 2, headDim: 2, scale: 1 / Math.SQRT2 };
    const q2 = data(3 * 4, 11);
    const k2 = data(3 * 4, 12);
    const v2 = data(3 * 4, 13);
    const g2 = data(3 * 4, 14);
    const loss = () => attentionForwardRef({ ...d2, q: q2, k: k2, v: v2 }).out.reduce((s, x, i) => s + x * g2[i], 0);
    const { dq, dk, dv } = attentionBackwardRef({ ...d2, q: q2, k: k2, v: v2, dOut: g2 });
    expectNear('dq', dq, numericGrad(q2, loss));
    expectNear('dk', dk, numericGrad(k2, loss));
    expectNear('dv', dv, numericGrad(v2, loss));
  });

  it('with a key prefix: matches central differences, and every query sees every prefix key', () => {
    // B 2, T 3, a prefix of 2 keys per sequence (S = 5 keys), GQA 4 over 2, a padded own key in sequence 1.
    const d3: AttentionDims = { batch: 2, seqLen: 3, heads: 4, kvHeads: 2, headDim: 3, scale: 0.6 };
    const P = 2;
    const S = P + 3;
    const mask = [1, 1, 1, 1, 1, 1, 1, 1, 0, 1];
    const q3 = data(6 * 12, 21);
    const k3 = data(2 * S * 6, 22);
    const v3 = data(2 * S * 6, 23);
    const g3 = data(6 * 12, 24);
    const args = { ...d3, prefixLength: P, keyMask: mask };
    const loss = () => attentionForwardRef({ ...args, q: q3, k: k3, v: v3 }).out.reduce((s, x, i) => s + x * g3[i], 0);
    const { dq, dk, dv } = attentionBackwardRef({ ...args, q: q3, k: k3, v: v3, dOut: g3 });
    expectNear('dq', dq, numericGrad(q3, loss));
    expectNear('dk', dk, numericGrad(k3, loss));
    expectNear('dv', dv, numericGrad(v3, loss));
    const { probs } = attentionForwardRef({ ...args, q: q3, k: k3, v: v3 });
    // Query 0 of each sequence sees the 2 prefix keys and itself (minus the padded key), nothing later.
    for (let b = 0; b < 2; b++) {
      for (let h = 0; h < 4; h++) {
        const row = probs.subarray(((b * 4 + h) * 3) * S, ((b * 4 + h) * 3 + 1) * S);
        expect(row[0]).toBeGreaterThan(0);
        expect(row[1]).toBeGreaterThan(0);
        expect(row[3]).toBe(0);
        expect(row[4]).toBe(0);
        expect(row.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 12);
      }
    }
  });
});

describe('attentionForwardRef', () => {
  it('matches a direct computation per (sequence, head, query), has proper softmax rows and their lse', () => {
    const dims: AttentionDims = { batch: 2, seqLen: 5, heads: 6, kvHeads: 2, headDim: 4, scale: 0.5 };
    const M = 10;
    const q = data(M * 24, 21);
    const k = data(M * 8, 22);
    const v = data(M * 8, 23);
    const keyMask = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]; // sequence 0 right padded, sequence 1 fully padded
    const { out, probs, lse } = attentionForwardRef({ ...dims, q, k, v, keyMask });
    expect(lse).toHaveLength(2 * 6 * 5);
    for (let b = 0; b < 2; b++) {
      for (let h = 0; h < 6; h++) {
        const g = Math.floor(h / 3);
        for (let i = 0; i < 5; i++) {
          const seen = [...Array(i + 1).keys()].filter((j) => keyMask[b * 5 + j] === 1);
          const s = seen.map((j) => {
            let dot = 0;
            for (let d = 0; d < 4; d++) dot += q[(b * 5 + i) * 24 + h * 4 + d] * k[(b * 5 + j) * 8 + g * 4 + d];
            return 0.5 * dot;
          });
          const z = s.reduce((a, x) => a + Math.exp(x), 0);
          const rowLse = lse[(b * 6 + h) * 5 + i];
          if (seen.length === 0) expect(rowLse).toBe(ATTENTION_NO_KEYS_LSE);
          else expect(rowLse).toBeCloseTo(Math.log(z), 12);
          // The backward's recomputation: P_ij = exp(s_ij − lse_i), 0 for a query with no key.
          seen.forEach((j, n) => expect(Math.exp(s[n] - rowLse)).toBeCloseTo(Math.exp(s[n]) / z, 12));
          const pRow = probs.subarray(((b * 6 + h) * 5 + i) * 5, ((b * 6 + h) * 5 + i + 1) * 5);
          const expectedP = new Float64Array(5);
          seen.forEach((j, n) => (expectedP[j] = Math.exp(s[n]) / z));
          expectNear(`P[${b},${h},${i}]`, pRow, expectedP, 1e-12);
          const rowSum = pRow.reduce((a, x) => a + x, 0);
          expect(rowSum).toBeCloseTo(seen.length > 0 ? 1 : 0, 12);
          for (let d = 0; d < 4; d++) {
            let o = 0;
            for (const j of seen) o += expectedP[j] * v[(b * 5 + j) * 8 + g * 4 + d];
            expect(out[(b * 5 + i) * 24 + h * 4 + d]).toBeCloseTo(o, 12);
          }
        }
      }
    }
    // The fully padded sequence outputs zeros.
    for (let i = 5 * 24; i < 10 * 24; i++) expect(out[i]).toBe(0);
  });
});

describe('attentionDecodeRef', () => {
  it('prefill then single-token steps over a cache give the full forward rows', () => {
    const dims = { heads: 4, kvHeads: 1, headDim: 3, scale: 0.6 };
    const B = 2;
    const T = 6;
    const maxT = 9;
    const q = data(B * T * 12, 31);
    const k = data(B * T * 3, 32);
    const v = data(B * T * 3, 33);
    const full = attentionForwardRef({ ...dims, batch: B, seqLen: T, q, k, v }).out;
    const kCache = new Float64Array(B * maxT * 3);
    const vCache = new Float64Array(B * maxT * 3);
    const steps = [3, 1, 1, 1];
    let past = 0;
    for (const n of steps) {
      const rows = (x: Float64Array, w: number) => {
        const r = new Float64Array(B * n * w);
        for (let b = 0; b < B; b++) r.set(x.subarray((b * T + past) * w, (b * T + past + n) * w), b * n * w);
        return r;
      };
      kvCacheAppendRef(kCache, rows(k, 3), B, n, past, maxT, 3);
      kvCacheAppendRef(vCache, rows(v, 3), B, n, past, maxT, 3);
      const out = attentionDecodeRef({ ...dims, q: rows(q, 12), kCache, vCache, batch: B, newTokens: n, pastLen: past, maxT });
      expectNear(`decode step at ${past}`, out, rows(full, 12), 1e-12);
      past += n;
    }
  });
});

describe('attention reference validation', () => {
  const base = { batch: 1, seqLen: 2, heads: 4, kvHeads: 2, headDim: 2, scale: 1, q: new Float64Array(16), k: new Float64Array(8), v: new Float64Array(8) };
  it('names the wrong input and the GQA rule', () => {
    expect(() => attentionForwardRef({ ...base, k: new Float64Array(7) })).toThrow('attentionForwardRef: k has 7 elements, expected B·T·KV·hd = 8');
    expect(() => attentionForwardRef({ ...base, kvHeads: 3 })).toThrow('heads (4) must be a multiple of kvHeads (3)');
    expect(() => attentionForwardRef({ ...base, keyMask: [1] })).toThrow('keyMask has 1 elements, expected B·T = 2');
    expect(() => attentionBackwardRef({ ...base, dOut: new Float64Array(3) })).toThrow('dOut has 3 elements');
    expect(() =>
      attentionDecodeRef({ q: new Float64Array(8), kCache: new Float64Array(8), vCache: new Float64Array(8), batch: 1, newTokens: 1, pastLen: 4, maxT: 4, heads: 4, kvHeads: 2, headDim: 2, scale: 1 }),
    ).toThrow('pastLen + newTokens = 4 + 1 exceeds the cache length maxT = 4');
  });
});
