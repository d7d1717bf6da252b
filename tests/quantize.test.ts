import { describe, expect, it } from 'vitest';
import {
  dequantizeElement,
  dequantizeWeight,
  packWeight,
  quantizationErrorBound,
} from '../src/kernels/quantize';
import {
  FORMAT_SPECS,
  NF4_CODEBOOK,
  WEIGHT_FORMATS,
  WEIGHT_LAYOUTS,
  packedWordCount,
  scaleCount,
  type WeightFormat,
} from '../src/kernels/weight-format';
import { mulberry32, randomNormal } from '../src/util/random';

/** [N, K] → [K, N]. */
function transpose(v: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(v.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = v[i * cols + j];
  return t;
}

/**
 * Test weights [N, K]: normal values whose magnitude varies by row, a few outliers, and one all-zero
 * group (row 1, first group) so the absmax = 0 path is exercised.
 */
function testWeights(N: number, K: number, seed: number): Float32Array {
  const v = randomNormal(N * K, seed, 0.05);
  const next = mulberry32(seed + 1);
  for (let n = 0; n < N; n++) {
    const rowScale = 2 ** (n % 5) / 4;
    for (let k = 0; k < K; k++) v[n * K + k] *= rowScale;
    if (next() < 0.5) v[n * K + Math.floor(next() * K)] = (next() < 0.5 ? -1 : 1) * 3 * rowScale;
  }
  if (N > 1) for (let k = 0; k < Math.min(K, 64); k++) v[K + k] = 0;
  return v;
}

/** Absolute maximum of W[n, k0 .. k0 + g) over k < K, computed straight from the [N, K] values. */
function groupAbsmax(v: Float32Array, K: number, n: number, k: number, g: number): number {
  const k0 = Math.floor(k / g) * g;
  let m = 0;
  for (let j = k0; j < Math.min(k0 + g, K); j++) m = Math.max(m, Math.abs(v[n * K + j]));
  return m;
}

const OUTS = [5, 17, 33];
const INS = [7, 31, 33, 65, 100];

describe('packWeight / dequantizeWeight round trip', () => {
  for (const format of WEIGHT_FORMATS) {
    for (const layout of WEIGHT_LAYOUTS) {
      it(`${format} ${layout}: every element within its group's bound, sizes match the contract`, () => {
        const g = FORMAT_SPECS[format].groupSize;
        for (const N of OUTS) {
          for (const K of INS) {
            const w = testWeights(N, K, 1000 * N + K);
            const src = layout === 'linear' ? w : transpose(w, N, K);
            const p = packWeight(src, N, K, format, layout, 'test');
            expect(p.words.length).toBe(packedWordCount(format, N, K));
            expect(p.scales.length).toBe(scaleCount(format, N, K));
            expect(p.paddedIn).toBe(format === 'f32' ? K : Math.ceil(K / g) * g);
            expect(p.paddedIn % g).toBe(0);
            const deq = dequantizeWeight(p);
            expect(deq.length).toBe(N * K);
            let worstRatio = 0;
            for (let n = 0; n < N; n++) {
              for (let k = 0; k < K; k++) {
                const err = Math.abs(w[n * K + k] - deq[n * K + k]);
                const bound = quantizationErrorBound(format, groupAbsmax(w, K, n, k, g));
                if (err > bound) {
                  throw new Error(`${format} ${layout} ${N}×${K}: W[${n},${k}] error ${err} > bound ${bound}`);
                }
                if (bound > 0) worstRatio = Math.max(worstRatio, err / bound);
              }
            }
            // The bound is not vacuous: random data gets reasonably close to it.
            if (format !== 'f32') expect(worstRatio).toBeGreaterThan(0.3);
          }
        }
      });

      it(`${format} ${layout}: padding slots hold the zero code and decode to 0`, () => {
        if (format === 'f32') return; // f32 has no padding: paddedIn = K.
        const { bits, groupSize } = FORMAT_SPECS[format];
        const zeroCode = format === 'q8' ? 0 : format === 'q4' ? 8 : NF4_CODEBOOK.indexOf(0);
        for (const K of [7, 33, 100]) {
          const N = 5;
          const w = testWeights(N, K, K);
          const p = packWeight(layout === 'linear' ? w : transpose(w, N, K), N, K, format, layout);
          expect(p.paddedIn).toBe(Math.ceil(K / groupSize) * groupSize);
          const vpw = 32 / bits;
          for (let n = 0; n < N; n++) {
            for (let k = K; k < p.paddedIn; k++) {
              // Field position worked out from the contract in weight-format.ts, not from quantize.ts.
              const wi = Math.floor(k / vpw);
              const word = layout === 'linear' ? p.words[n * (p.paddedIn / vpw) + wi] : p.words[wi * N + n];
              const field = (word >>> ((k % vpw) * bits)) & ((1 << bits) - 1);
              expect(field).toBe(zeroCode);
              expect(dequantizeElement(p, n, k)).toBe(0);
            }
          }
        }
      });
    }

    it(`${format}: conv1d packing of the transpose decodes to exactly the linear packing`, () => {
      const { bits, groupSize } = FORMAT_SPECS[format];
      const vpw = 32 / bits;
      for (const N of OUTS) {
        for (const K of INS) {
          const w = testWeights(N, K, 7 * N + K);
          const lin = packWeight(w, N, K, format, 'linear');
          const conv = packWeight(transpose(w, N, K), N, K, format, 'conv1d');
          expect(dequantizeWeight(conv)).toEqual(dequantizeWeight(lin));
          if (format === 'f32') {
            // f32 words stay in the source layout: conv1d word k·N + n = linear word n·K + k.
            for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) {
              expect(conv.words[k * N + n]).toBe(lin.words[n * K + k]);
            }
            continue;
          }
          // Same words and scales, rearranged by the contract's index formulas.
          const wordsPerRow = lin.paddedIn / vpw;
          const groupsPerRow = lin.paddedIn / groupSize;
          for (let n = 0; n < N; n++) {
            for (let wi = 0; wi < wordsPerRow; wi++) expect(conv.words[wi * N + n]).toBe(lin.words[n * wordsPerRow + wi]);
            for (let gi = 0; gi < groupsPerRow; gi++) expect(conv.scales[gi * N + n]).toBe(lin.scales[n * groupsPerRow + gi]);
          }
        }
      }
    });
  }

  it('f32 is bit-exact, including −0 and extreme magnitudes', () => {
    const N = 3;
    const K = 5;
    const w = randomNormal(N * K, 42, 1);
    w[0] = -0;
    w[1] = 3.4028234663852886e38;
    w[2] = 1.401298464324817e-45;
    for (const layout of WEIGHT_LAYOUTS) {
      const src = layout === 'linear' ? w : transpose(w, N, K);
      const p = packWeight(src, N, K, 'f32', layout);
      expect(p.scales.length).toBe(0);
      expect(Array.from(p.words)).toEqual(Array.from(new Uint32Array(src.buffer)));
      const deq = dequantizeWeight(p);
      for (let i = 0; i < N * K; i++) expect(Object.is(deq[i], w[i])).toBe(true);
    }
  });

  it('a nearest-code check: no other nf4 code is closer than the chosen one', () => {
    const N = 4;
    const K = 130;
    const w = testWeights(N, K, 5);
    const p = packWeight(w, N, K, 'nf4', 'linear');
    const deq = dequantizeWeight(p);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        const s = p.scales[n * (p.paddedIn / 64) + Math.floor(k / 64)];
        const err = Math.abs(w[n * K + k] - deq[n * K + k]);
        // Slack s·2⁻²² for the f32 rounding of the decoded product; a wrong code is off by far more.
        for (const c of NF4_CODEBOOK) expect(err).toBeLessThanOrEqual(Math.abs(w[n * K + k] - c * s) + s * 2 ** -22);
      }
    }
  });
});

describe('hand-built packings', () => {
  it('f32: words are the IEEE-754 bits', () => {
    const p = packWeight(new Float32Array([1, -2, 0.5, -0]), 2, 2, 'f32', 'linear');
    expect(Array.from(p.words)).toEqual([0x3f800000, 0xc0000000, 0x3f000000, 0x80000000]);
    expect(p.paddedIn).toBe(2);
  });

  it('q8: absmax 127 gives d = 1; bytes are two’s complement, low slot in the low byte', () => {
    // q = round(v / 1): 127, −1, 2, −65, 3 → bytes 0x7F, 0xFF, 0x02, 0xBF (256 − 65 = 191), 0x03.
    const p = packWeight(new Float32Array([127, -1, 2.4, -64.6, 3]), 1, 5, 'q8', 'linear');
    expect(p.paddedIn).toBe(32);
    expect(Array.from(p.scales)).toEqual([1]);
    expect(Array.from(p.words)).toEqual([0xbf02ff7f, 0x00000003, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(dequantizeWeight(p))).toEqual([127, -1, 2, -65, 3]);
  });

  it('q8: scale is f32(absmax / 127) and a value at absmax maps to ±127', () => {
    const p = packWeight(new Float32Array([-1, 0.5]), 1, 2, 'q8', 'linear');
    const d = Math.fround(1 / 127);
    expect(p.scales[0]).toBe(d);
    // −1 → −127 → 0x81; 0.5/d = 63.5000… → 64 → 0x40.
    expect(p.words[0]).toBe(0x4081);
    expect(Array.from(dequantizeWeight(p))).toEqual([Math.fround(-127 * d), Math.fround(64 * d)]);
  });

  it('q4: two rows, two groups, both layouts', () => {
    const N = 2;
    const K = 40; // two groups of 32, paddedIn 64 → 8 words and 2 scales per row.
    const w = new Float32Array(N * K);
    // Row 0, group 0: absmax 7 → d = 1. q = 7, −7, 0, 1, −3, 3, 1, 0 → codes q + 8 = F, 1, 8, 9, 5, B, 9, 8.
    w.set([7, -7, 0, 1.4, -2.6, 3.2, 0.5001, -0.4], 0);
    // Row 0, group 1 (k = 32..39): absmax 1 → d = f32(1/7). q = 7, −7, round(2.1) = 2 → codes F, 1, A, then 8s.
    w.set([1, -1, 0.3], 32);
    // Row 1 is all zeros: scale 0, every code 8.
    const r0w0 = 0x89b5981f; // slots 7..0 = 8 9 B 5 9 8 1 F
    const r0w4 = 0x88888a1f; // slots 7..0 = 8 8 8 8 8 A 1 F
    const z = 0x88888888;
    const d1 = Math.fround(1 / 7);

    const lin = packWeight(w, N, K, 'q4', 'linear');
    expect(Array.from(lin.words)).toEqual([r0w0, z, z, z, r0w4, z, z, z, z, z, z, z, z, z, z, z]);
    expect(Array.from(lin.scales)).toEqual([1, d1, 0, 0]); // index n·2 + g

    const conv = packWeight(transpose(w, N, K), N, K, 'q4', 'conv1d');
    // word index w·N + n: r0w0, r1w0, r0w1, r1w1, …, r0w4 at 8.
    expect(Array.from(conv.words)).toEqual([r0w0, z, z, z, z, z, z, z, r0w4, z, z, z, z, z, z, z]);
    expect(Array.from(conv.scales)).toEqual([1, 0, d1, 0]); // index g·N + n

    const deq = dequantizeWeight(lin);
    expect(Array.from(deq.subarray(0, 8))).toEqual([7, -7, 0, 1, -3, 3, 1, 0]);
    expect(Array.from(deq.subarray(32, 35))).toEqual([7 * d1, -7 * d1, 2 * d1].map(Math.fround));
    expect(Array.from(deq.subarray(K))).toEqual(new Array(K).fill(0));
  });

  it('nf4: absmax 2, indices of the nearest codes', () => {
    // v / 2 = 1 → 15; −1 → 0; 0.165 → 0.1609 (9); 0.45 → 0.4407 (12, vs 0.5626);
    // −0.15 → −0.1848 (5, distance 0.035, vs −0.0911 at 0.059). Slots 5..7 are padding: index 7 (0.0).
    const p = packWeight(new Float32Array([2, -2, 0.33, 0.9, -0.3]), 1, 5, 'nf4', 'linear');
    expect(p.paddedIn).toBe(64);
    expect(Array.from(p.scales)).toEqual([2]);
    expect(p.words[0]).toBe(0x7775c90f); // slots 7..0 = 7 7 7 5 C 9 0 F
    expect(Array.from(p.words.subarray(1))).toEqual(new Array(7).fill(0x77777777));
    expect(Array.from(dequantizeWeight(p))).toEqual(
      [1, -1, 0.16093020141124725, 0.44070982933044434, -0.18477343022823334].map((c) => Math.fround(2 * c)),
    );
  });

  for (const [format, qmax] of [['q8', 127], ['q4', 7]] as const) {
    it(`${format}: q is rounded against the f32 scale, not the exact absmax/${qmax}`, () => {
      // absmax 1: the stored scale d = f32(1/${qmax}) differs from 1/${qmax} by < 2⁻²⁴ relative. Look for f32 values
      // near the rounding midpoints (q + 0.5)/${qmax} for which round(v·${qmax}) ≠ round(v/d); the packer must use d.
      const d = Math.fround(1 / qmax);
      const bits = new Uint32Array(1);
      const f = new Float32Array(bits.buffer);
      const roundAway = (t: number) => Math.sign(t) * Math.floor(Math.abs(t) + 0.5);
      const picks: number[] = [];
      for (let q = 0; q < qmax; q++) {
        f[0] = (q + 0.5) / qmax;
        const mid = bits[0];
        for (let delta = -3; delta <= 3; delta++) {
          bits[0] = mid + delta;
          if (roundAway(f[0] * qmax) !== roundAway(f[0] / d)) picks.push(f[0]);
        }
      }
      expect(picks.length).toBeGreaterThan(0);
      for (const v of picks) {
        const p = packWeight(new Float32Array([1, v, -v]), 1, 3, format, 'linear');
        expect(p.scales[0]).toBe(d);
        const q = roundAway(v / d);
        expect(Array.from(dequantizeWeight(p))).toEqual([Math.fround(qmax * d), Math.fround(q * d), Math.fround(-q * d)]);
      }
    });
  }

  it('an all-zero group stores scale 0 and the zero code', () => {
    const zero = new Float32Array(3);
    expect(Array.from(packWeight(zero, 1, 3, 'q8', 'linear').words)).toEqual(new Array(8).fill(0));
    expect(Array.from(packWeight(zero, 1, 3, 'q4', 'linear').words)).toEqual(new Array(4).fill(0x88888888));
    expect(Array.from(packWeight(zero, 1, 3, 'nf4', 'linear').words)).toEqual(new Array(8).fill(0x77777777));
    for (const f of ['q8', 'q4', 'nf4'] as WeightFormat[]) {
      const p = packWeight(zero, 1, 3, f, 'conv1d');
      expect(Array.from(p.scales)).toEqual([0]);
      expect(Array.from(dequantizeWeight(p))).toEqual([0, 0, 0]);
    }
  });
});

describe('quantizationErrorBound', () => {
  it('is the stated half-step plus a tiny slack', () => {
    // The slack is absmax·2⁻²², at most 254·2⁻²² ≈ 6e-5 of the q8 half-step.
    const within = (got: number, want: number) => {
      expect(got).toBeGreaterThanOrEqual(want);
      expect(got).toBeLessThanOrEqual(want * (1 + 1e-4));
    };
    expect(quantizationErrorBound('f32', 5)).toBe(0);
    within(quantizationErrorBound('q8', 127), 0.5);
    within(quantizationErrorBound('q4', 7), 0.5);
    within(quantizationErrorBound('q4', 0.7), 0.05);
    // Largest NF4 gap is between −1 and −0.6961928: half of 0.3038072.
    within(quantizationErrorBound('nf4', 2), 2 * (1 - 0.6961928009986877) / 2);
    expect(quantizationErrorBound('q8', 0)).toBe(0);
  });

  it('rejects a negative or non-finite absmax', () => {
    expect(() => quantizationErrorBound('q8', -1)).toThrow(/absmax/);
    expect(() => quantizationErrorBound('q8', NaN)).toThrow(/absmax/);
  });
});

describe('packWeight input validation', () => {
  it('wrong length names the tensor and the expected shape', () => {
    expect(() => packWeight(new Float32Array(100), 12, 9, 'q8', 'linear', 'q_proj')).toThrow(
      'packWeight(q_proj): values has 100 elements, expected out·in = 12·9 = 108',
    );
    expect(() => packWeight(new Float32Array(100), 12, 9, 'f32', 'conv1d', 'c_attn')).toThrow(
      'packWeight(c_attn): values has 100 elements, expected in·out = 9·12 = 108',
    );
  });

  it('non-finite values name the tensor and the index', () => {
    const v = new Float32Array(12);
    v[7] = NaN;
    expect(() => packWeight(v, 3, 4, 'q4', 'linear', 'fc1')).toThrow(/packWeight\(fc1\): value at index 7 \(n=1, k=3\) is NaN/);
    v[7] = 0;
    v[5] = -Infinity;
    // conv1d [in = 4, out = 3]: index 5 = k 1, n 2.
    expect(() => packWeight(v, 3, 4, 'f32', 'conv1d', 'fc2')).toThrow(/fc2.*index 5 \(n=2, k=1\) is -Infinity/);
  });

  it('rejects zero, negative and fractional dims', () => {
    expect(() => packWeight(new Float32Array(0), 0, 4, 'q8', 'linear', 'w')).toThrow(/outFeatures must be a positive integer, got 0/);
    expect(() => packWeight(new Float32Array(4), 4, -1, 'q8', 'linear', 'w')).toThrow(/inFeatures must be a positive integer, got -1/);
    expect(() => packWeight(new Float32Array(3), 2, 1.5, 'q8', 'linear', 'w')).toThrow(/inFeatures must be a positive integer, got 1.5/);
  });

  it('rejects an unknown format or layout', () => {
    expect(() => packWeight(new Float32Array(4), 2, 2, 'q2' as WeightFormat, 'linear')).toThrow(/unknown format 'q2'/);
    expect(() => packWeight(new Float32Array(4), 2, 2, 'q8', 'rows' as 'linear')).toThrow(/unknown layout 'rows'/);
  });

  it('dequantizeWeight rejects planes of the wrong size', () => {
    const p = packWeight(new Float32Array(10), 2, 5, 'q4', 'linear');
    expect(() => dequantizeWeight({ ...p, words: p.words.subarray(1) })).toThrow(/words has 7 elements, expected 8/);
    expect(() => dequantizeWeight({ ...p, scales: new Float32Array(3) })).toThrow(/scales has 3 elements, expected 2/);
  });
});
