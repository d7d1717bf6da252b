import { describe, expect, it } from 'vitest';
import { dropoutFactor, dropoutUniform, pcgHash, streamSeed, validateDropout } from '../src/kernels/dropout-mask';

const U32 = 2n ** 32n;

/** pcg_hash written independently with BigInt arithmetic mod 2³². */
function pcgHashBig(v: number): number {
  const state = (BigInt(v >>> 0) * 747796405n + 2891336453n) % U32;
  const shifted = state >> ((state >> 28n) + 4n);
  const word = ((shifted ^ state) * 277803737n) % U32;
  return Number((word >> 22n) ^ word);
}

describe('pcgHash', () => {
  it('matches hand-traced values for 0 and 1', () => {
    // v = 0: state = 0·747796405 + 2891336453 = 2891336453 (< 2³²). state >> 28 = 10, so shift by 14:
    //   2891336453 >> 14 = 176473; 176473 ^ 2891336453 = 2891250268;
    //   word = 2891250268 · 277803737 mod 2³² = 129708028; 129708028 >> 22 = 30; 30 ^ 129708028 = 129708002.
    // v = 1: state = 747796405 + 2891336453 = 3639132858. state >> 28 = 13, so shift by 17:
    //   3639132858 >> 17 = 27764; 27764 ^ 3639132858 = 3639127758;
    //   word = 3639127758 · 277803737 mod 2³² = 2831083678; 2831083678 >> 22 = 674; 674 ^ 2831083678 = 2831084092.
    expect(pcgHashBig(0)).toBe(129708002);
    expect(pcgHashBig(1)).toBe(2831084092);
    expect(pcgHash(0)).toBe(129708002);
    expect(pcgHash(1)).toBe(2831084092);
  });

  it('agrees with the BigInt version on many inputs, including the top of the u32 range', () => {
    const inputs = [2, 3, 12345, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
    for (let i = 0; i < 2000; i++) inputs.push((i * 2654435761) >>> 0);
    for (const v of inputs) expect(pcgHash(v)).toBe(pcgHashBig(v));
  });
});

describe('dropout mask', () => {
  const mask = (seed: number, n: number, p: number) => Array.from({ length: n }, (_, i) => dropoutFactor(seed, i, p));

  it('is deterministic for a seed', () => {
    expect(mask(7, 5000, 0.3)).toEqual(mask(7, 5000, 0.3));
  });

  it('differs between seeds', () => {
    const a = mask(1, 10000, 0.5);
    const b = mask(2, 10000, 0.5);
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
    // Independent masks at p = 0.5 differ in about half the places.
    expect(differ).toBeGreaterThan(4500);
    expect(differ).toBeLessThan(5500);
  });

  it('p = 0 keeps everything with factor 1', () => {
    for (const seed of [0, 1, 99]) expect(mask(seed, 1000, 0).every((f) => f === 1)).toBe(true);
  });

  it('kept values are scaled by 1/(1 − p) with p as f32, dropped ones are 0', () => {
    const p = 0.1;
    const keep = 1 / (1 - Math.fround(p));
    const m = mask(3, 1000, p);
    expect(m.every((f) => f === 0 || f === keep)).toBe(true);
    for (let i = 0; i < 1000; i++) expect(m[i] === 0).toBe(dropoutUniform(3, i) < Math.fround(p));
  });

  for (const p of [0.1, 0.5]) {
    it(`keeps 1 − p of 100k elements within ±1% at p = ${p}`, () => {
      const n = 100_000;
      let kept = 0;
      for (let i = 0; i < n; i++) if (dropoutFactor(12345, i, p) !== 0) kept++;
      expect(Math.abs(kept / n - (1 - p))).toBeLessThan(0.01);
    });
  }

  it('uniforms lie in [0, 1) on a 2⁻²⁴ grid', () => {
    for (let i = 0; i < 1000; i++) {
      const u = dropoutUniform(5, i);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      expect(Number.isInteger(u * 2 ** 24)).toBe(true);
    }
  });

  it('validateDropout rejects p outside [0, 1)', () => {
    expect(() => validateDropout(1)).toThrow(/\[0, 1\), got 1/);
    expect(() => validateDropout(-0.1)).toThrow(RangeError);
    expect(() => validateDropout(NaN)).toThrow(RangeError);
    expect(() => validateDropout(0.99)).not.toThrow();
  });
});

describe('streamSeed', () => {
  it('gives every stream of a step its own u32 seed, and different steps different seeds', () => {
    const seeds = Array.from({ length: 1000 }, (_, k) => streamSeed(42, k));
    expect(new Set(seeds).size).toBe(seeds.length);
    expect(seeds.every((s) => Number.isInteger(s) && s >= 0 && s <= 0xffffffff)).toBe(true);
    expect(streamSeed(43, 0)).not.toBe(streamSeed(42, 0));
    // The mixing: hash of seed ^ (golden-ratio multiple of stream + 1), mod 2³².
    expect(streamSeed(7, 2)).toBe(pcgHashBig(Number((7n ^ ((3n * 0x9e3779b9n) % U32)) % U32)));
  });
});
