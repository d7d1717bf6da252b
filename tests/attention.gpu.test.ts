/**
 * Attention kernels against the float64 reference (reference/attention.ts) on ragged shapes, on both kernel
 * profiles: forward (out and the softmax statistic lse) and the backward that recomputes the probabilities from
 * lse (dq, dk, dv) with GQA, key prefixes and key masks (right and left padding, holes, a fully padded sequence
 * whose queries see no key), more keys, queries per key and head columns than a workgroup's 64 threads; KV cache
 * decoding (prefill plus single-token steps give the full forward's rows exactly), and input errors.
 * Four pipelines in all: attention_forward (also decode), attention_backward_stats, attention_backward_dq,
 * attention_backward_dkv.
 */
import { describe, expect, it } from 'vitest';
import {
  ATTENTION_MAX_KEYS, ATTENTION_NO_KEYS_LSE, encodeAttentionBackward, encodeAttentionDecode, encodeAttentionForward, encodeKvCacheAppend,
} from '../src/kernels/attention';
import { CommandRecorder } from '../src/kernels/dispatch';
import { indexTensorFrom } from '../src/kernels/index-tensor';
import { attentionBackwardRef, attentionForwardRef } from '../src/kernels/reference/attention';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { ShapeError } from '../src/gpu/errors';
import { randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { KERNEL_PROFILES, useGpu, withKernelProfile } from './helpers/gpu';

const ctx = useGpu();
const TOL = { atol: 2e-5, rtol: 2e-4 };
const B = 2;
const H = 4;

type MaskKind = 'none' | 'right padding' | 'left padding, fully padded sequence' | 'holes';

function makeMask(kind: MaskKind, T: number): Uint32Array | null {
  if (kind === 'none') return null;
  const m = new Uint32Array(B * T).fill(1);
  if (kind === 'right padding') for (let t = T - 3; t < T; t++) m[T + t] = 0; // sequence 1 ends in 3 pads
  if (kind === 'left padding, fully padded sequence') {
    m[0] = 0; m[1] = 0; // sequence 0: queries 0 and 1 see no key
    for (let t = 0; t < T; t++) m[T + t] = 0; // sequence 1: nothing real
  }
  if (kind === 'holes') { m[2] = 0; m[T + 4] = 0; m[T + 5] = 0; }
  return m;
}

const cases: { T: number; KV: number; hd: number; mask: MaskKind }[] = [
  { T: 7, KV: 4, hd: 8, mask: 'none' },
  { T: 13, KV: 2, hd: 6, mask: 'right padding' },
  { T: 13, KV: 1, hd: 8, mask: 'left padding, fully padded sequence' },
  { T: 7, KV: 2, hd: 6, mask: 'holes' },
  { T: 13, KV: 4, hd: 6, mask: 'right padding' },
  // More keys, (head, query) pairs per key and head columns than the 64 threads of a row's workgroup.
  { T: 70, KV: 1, hd: 72, mask: 'holes' },
  // Head columns up to the fourth per thread of the tiled kernels (ATTENTION_MAX_HEAD_DIM = 256 = 4 · 64).
  { T: 7, KV: 2, hd: 200, mask: 'right padding' },
];

/**
 * Forward and backward on the GPU against the reference for B sequences of T queries behind a prefix of P keys
 * (P = 0: plain causal attention), with the key mask over the P + T keys of each sequence. Returns `out` and `lse`.
 */
async function checkAgainstReference(
  T: number, P: number, KV: number, hd: number, maskH: Uint32Array | null, seed: number,
): Promise<{ out: Float32Array; lse: Float32Array }> {
  const d = ctx.gpu.device;
  const S = P + T;
  const M = B * T;
  const qH = randomUniform(M * H * hd, seed + 1, -2, 2);
  const kH = randomUniform(B * S * KV * hd, seed + 2, -2, 2);
  const vH = randomUniform(B * S * KV * hd, seed + 3);
  const dOutH = randomUniform(M * H * hd, seed + 4);
  const dims = { batch: B, seqLen: T, prefixLength: P, heads: H, kvHeads: KV, headDim: hd, scale: 1 / Math.sqrt(hd) };
  // Stale values in the outputs must be overwritten.
  const stale = (shape: number[], name: string) => tensorFrom(d, new Float32Array(shape.reduce((x, y) => x * y, 1)).fill(7), shape, name);
  const q = tensorFrom(d, qH, [M, H * hd], 'q');
  const k = tensorFrom(d, kH, [B * S, KV * hd], 'k');
  const v = tensorFrom(d, vH, [B * S, KV * hd], 'v');
  const dOut = tensorFrom(d, dOutH, [M, H * hd], 'dOut');
  const out = stale([M, H * hd], 'out');
  const lse = stale([B, H, T], 'lse');
  const dq = stale([M, H * hd], 'dq');
  const dk = stale([B * S, KV * hd], 'dk');
  const dv = stale([B * S, KV * hd], 'dv');
  const rec = new CommandRecorder(ctx.gpu);
  const keyMask = maskH && indexTensorFrom(d, maskH, 'keyMask');
  encodeAttentionForward(rec, { ...dims, q, k, v, keyMask, out, lse });
  encodeAttentionBackward(rec, { ...dims, dOut, q, k, v, out, lse, keyMask, dq, dk, dv });
  rec.submit();
  const ref = attentionForwardRef({ ...dims, q: qH, k: kH, v: vH, keyMask: maskH });
  const grads = attentionBackwardRef({ ...dims, q: qH, k: kH, v: vH, keyMask: maskH, dOut: dOutH });
  const o = await readTensor(d, out);
  const l = await readTensor(d, lse);
  expectClose('out', o, ref.out, TOL);
  expectClose('lse', l, ref.lse, TOL);
  expectClose('dq', await readTensor(d, dq), grads.dq, TOL);
  expectClose('dk', await readTensor(d, dk), grads.dk, TOL);
  expectClose('dv', await readTensor(d, dv), grads.dv, TOL);
  return { out: o, lse: l };
}

describe.each(KERNEL_PROFILES)('%s kernels', (profile) => {
withKernelProfile(ctx, profile);

describe('attention forward and backward', () => {
  for (const c of cases) {
    it(`B ${B}, T ${c.T}, H ${H}, KV ${c.KV}, hd ${c.hd}, mask: ${c.mask}`, async () => {
      const { out, lse } = await checkAgainstReference(c.T, 0, c.KV, c.hd, makeMask(c.mask, c.T), c.T * 100 + c.KV * 10 + c.hd);
      if (c.mask === 'left padding, fully padded sequence') {
        expect(out.subarray(c.T * H * c.hd).every((x) => x === 0)).toBe(true); // the padded sequence outputs zeros
        // Its queries, and queries 0 and 1 of sequence 0, see no key: lse is the stated value, exactly.
        expect(lse.subarray(H * c.T).every((x) => x === ATTENTION_NO_KEYS_LSE)).toBe(true);
        for (let h = 0; h < H; h++) {
          expect([lse[h * c.T], lse[h * c.T + 1]]).toEqual([ATTENTION_NO_KEYS_LSE, ATTENTION_NO_KEYS_LSE]);
          expect(lse[h * c.T + 2]).toBeLessThan(100);
        }
      }
    });
  }
});

describe('attention with a key prefix (prefix tuning)', () => {
  for (const c of [
    { T: 5, P: 3, KV: 2, hd: 6, mask: true },
    { T: 9, P: 70, KV: 1, hd: 8, mask: false },
  ]) {
    it(`B ${B}, T ${c.T}, prefix ${c.P}, KV ${c.KV}, hd ${c.hd}${c.mask ? ', padded keys' : ''}: forward and backward`, async () => {
      const S = c.P + c.T;
      let mask: Uint32Array | null = null;
      if (c.mask) {
        mask = new Uint32Array(B * S).fill(1);
        mask[S + S - 1] = 0; // sequence 1 ends in a pad
        mask[c.P + 1] = 0; // sequence 0: its second own key is padding
      }
      await checkAgainstReference(c.T, c.P, c.KV, c.hd, mask, 500 + c.T * 10 + c.P);
    });
  }

  it('refuses keys of the wrong length for the prefix, naming the shapes', () => {
    const d = ctx.gpu.device;
    const rec = new CommandRecorder(ctx.gpu);
    const t = (shape: number[], name: string) => zerosTensor(d, shape, name);
    expect(() =>
      encodeAttentionForward(rec, {
        batch: 1, seqLen: 4, prefixLength: 2, heads: 2, kvHeads: 2, headDim: 4, scale: 0.5,
        q: t([4, 8], 'q'), k: t([4, 8], 'k'), v: t([6, 8], 'v'), out: t([4, 8], 'out'), lse: t([1, 2, 4], 'lse'),
      }),
    ).toThrow(/tensor "k" \(k\) has shape \[4, 8\], expected \[B·\(P\+T\), KV·hd\] = \[6, 8\]/);
  });
});

describe('attention decode with a KV cache', () => {
  it('prefill then single-token steps (and a 2-token step) equal the full forward rows exactly', async () => {
    const d = ctx.gpu.device;
    const KV = 2;
    const hd = 8;
    const T = 11;
    const maxT = 16;
    const dims = { heads: H, kvHeads: KV, headDim: hd, scale: 1 / Math.sqrt(hd) };
    const qH = randomUniform(B * T * H * hd, 41, -2, 2);
    const kH = randomUniform(B * T * KV * hd, 42, -2, 2);
    const vH = randomUniform(B * T * KV * hd, 43);
    const fullOut = zerosTensor(d, [B * T, H * hd], 'full out');
    let rec = new CommandRecorder(ctx.gpu);
    encodeAttentionForward(rec, {
      ...dims, batch: B, seqLen: T, q: tensorFrom(d, qH, [B * T, H * hd], 'q'), k: tensorFrom(d, kH, [B * T, KV * hd], 'k'),
      v: tensorFrom(d, vH, [B * T, KV * hd], 'v'), out: fullOut, lse: zerosTensor(d, [B, H, T], 'lse'),
    });
    rec.submit();
    const full = await readTensor(d, fullOut);

    /** Rows past .. past + n − 1 of each sequence of a [B·T, w] array, as [B·n, w]. */
    const rows = (x: Float32Array, w: number, past: number, n: number) => {
      const r = new Float32Array(B * n * w);
      for (let b = 0; b < B; b++) r.set(x.subarray((b * T + past) * w, (b * T + past + n) * w), b * n * w);
      return r;
    };
    const kCache = zerosTensor(d, [B, maxT, KV * hd], 'kCache');
    const vCache = zerosTensor(d, [B, maxT, KV * hd], 'vCache');
    let past = 0;
    for (const n of [5, 1, 1, 2, 1, 1]) {
      const out = zerosTensor(d, [B * n, H * hd], 'step out');
      rec = new CommandRecorder(ctx.gpu);
      encodeKvCacheAppend(rec, {
        k: tensorFrom(d, rows(kH, KV * hd, past, n), [B * n, KV * hd], 'k new'), v: tensorFrom(d, rows(vH, KV * hd, past, n), [B * n, KV * hd], 'v new'),
        kCache, vCache, batch: B, newTokens: n, pastLen: past, maxT,
      });
      encodeAttentionDecode(rec, {
        ...dims, q: tensorFrom(d, rows(qH, H * hd, past, n), [B * n, H * hd], 'q new'), kCache, vCache, batch: B, newTokens: n, pastLen: past, maxT, out,
      });
      rec.submit();
      expect(Array.from(await readTensor(d, out)), `tokens ${past}..${past + n - 1}`).toEqual(Array.from(rows(full, H * hd, past, n)));
      past += n;
    }
    expect(past).toBe(T);
    // The caches hold the k rows at their positions, and zeros after them.
    const kc = await readTensor(d, kCache);
    for (let b = 0; b < B; b++) {
      expect(Array.from(kc.subarray(b * maxT * KV * hd, (b * maxT + T) * KV * hd))).toEqual(Array.from(kH.subarray(b * T * KV * hd, (b + 1) * T * KV * hd)));
      expect(kc.subarray((b * maxT + T) * KV * hd, (b + 1) * maxT * KV * hd).every((x) => x === 0)).toBe(true);
    }
  });
});

});

describe('attention input errors', () => {
  it('names the mismatched tensor, the GQA rule, the head-dimension limit, the cache overflow and the key limit', () => {
    const d = ctx.gpu.device;
    const T = 3;
    const M = B * T;
    const dims = { batch: B, seqLen: T, heads: 4, kvHeads: 2, headDim: 2, scale: 1 };
    const q = zerosTensor(d, [M, 8], 'q');
    const k = zerosTensor(d, [M, 4], 'k');
    const v = zerosTensor(d, [M, 4], 'v');
    const out = zerosTensor(d, [M, 8], 'out');
    const lse = zerosTensor(d, [B, 4, T], 'lse');
    const rec = new CommandRecorder(ctx.gpu);
    const badV = zerosTensor(d, [M, 8], 'layer0.v');
    expect(() => encodeAttentionForward(rec, { ...dims, q, k, v: badV, out, lse })).toThrow(
      'attention_forward: tensor "layer0.v" (v) has shape [6, 8], expected [B·T, KV·hd] = [6, 4]',
    );
    expect(() => encodeAttentionForward(rec, { ...dims, kvHeads: 3, q, k, v, out, lse })).toThrow(ShapeError);
    expect(() => encodeAttentionForward(rec, { ...dims, kvHeads: 3, q, k, v, out, lse })).toThrow('heads (4) must be a multiple of kvHeads (3)');
    expect(() => encodeAttentionForward(rec, { ...dims, q, k, v, out, lse, keyMask: indexTensorFrom(d, new Uint32Array(5), 'mask') })).toThrow(
      'index tensor "mask" (keyMask) has length 5, expected B·T = 6',
    );
    expect(() => encodeAttentionForward(rec, { ...dims, q, k, v, out: q, lse })).toThrow('shares its buffer');
    expect(() => encodeAttentionForward(rec, { ...dims, headDim: 512, q, k, v, out, lse })).toThrow(
      'attention_forward: headDim 512 exceeds ATTENTION_MAX_HEAD_DIM = 256, the most the attention kernels hold',
    );
    expect(() => encodeAttentionForward(rec, { ...dims, q, k, v, out, lse: zerosTensor(d, [B, 4, T, T], 'probs') })).toThrow(
      'attention_forward: tensor "probs" (lse) has shape [2, 4, 3, 3], expected [B, H, T] = [2, 4, 3]',
    );
    const grads = { dOut: zerosTensor(d, [M, 8], 'dOut'), dq: zerosTensor(d, [M, 8], 'dq'), dk: zerosTensor(d, [M, 4], 'dk'), dv: zerosTensor(d, [M, 4], 'dv') };
    expect(() => encodeAttentionBackward(rec, { ...dims, ...grads, q, k, v, out, lse: zerosTensor(d, [B, 4, 2], 'l') })).toThrow(
      'attention_backward: tensor "l" (lse) has shape [2, 4, 2], expected [B, H, T] = [2, 4, 3]',
    );
    expect(() => encodeAttentionBackward(rec, { ...dims, ...grads, q, k, v, out: zerosTensor(d, [M, 4], 'o4'), lse })).toThrow(
      'attention_backward: tensor "o4" (out) has shape [6, 4], expected [B·T, H·hd] = [6, 8]',
    );
    expect(() => encodeAttentionBackward(rec, { ...dims, ...grads, q, k, v, out, lse, keyMask: indexTensorFrom(d, new Uint32Array(4), 'm4') })).toThrow(
      'attention_backward: index tensor "m4" (keyMask) has length 4, expected B·T = 6',
    );
    expect(() =>
      encodeAttentionBackward(rec, { ...dims, ...grads, prefixLength: 1, q, k: zerosTensor(d, [B * 4, 4], 'k4'), v: zerosTensor(d, [B * 4, 4], 'v4'), out, lse, dk: zerosTensor(d, [M, 4], 'dk3') }),
    ).toThrow('attention_backward: tensor "dk3" (dk) has shape [6, 4], expected [B·(P+T), KV·hd] = [8, 4]');
    expect(() => encodeAttentionBackward(rec, { ...dims, ...grads, q, k, v, out, lse, dq: grads.dOut })).toThrow('shares its buffer');

    const kCache = zerosTensor(d, [B, 4, 4], 'kCache');
    const vCache = zerosTensor(d, [B, 4, 4], 'vCache');
    expect(() => encodeKvCacheAppend(rec, { k: zerosTensor(d, [B * 2, 4], 'k2'), v: zerosTensor(d, [B * 2, 4], 'v2'), kCache, vCache, batch: B, newTokens: 2, pastLen: 3, maxT: 4 })).toThrow(
      'kv_cache_append: KV cache overflow: pastLen + newTokens = 3 + 2 = 5 exceeds the cache length maxT = 4',
    );
    const dec = { heads: 4, kvHeads: 2, headDim: 2, scale: 1, q: zerosTensor(d, [B, 8], 'q1'), kCache, vCache, batch: B, newTokens: 1, maxT: 4, out: zerosTensor(d, [B, 8], 'o1') };
    expect(() => encodeAttentionDecode(rec, { ...dec, pastLen: 4 })).toThrow('attention_decode: KV cache overflow: pastLen + newTokens = 4 + 1 = 5');
    expect(() => encodeAttentionDecode(rec, { ...dec, pastLen: 0, kCache: zerosTensor(d, [B, 5, 4], 'kc5') })).toThrow('tensor "kc5" (kCache) has shape [2, 5, 4]');
    const longT = ATTENTION_MAX_KEYS + 1;
    expect(() =>
      encodeAttentionDecode(rec, { ...dec, maxT: longT, pastLen: longT - 1, kCache: zerosTensor(d, [B, longT, 4], 'kl'), vCache: zerosTensor(d, [B, longT, 4], 'vl') }),
    ).toThrow(`a query would see ${longT} keys`);
    rec.submit();
  });
});
