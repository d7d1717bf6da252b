import { describe, expect, it } from 'vitest';
import { applyRepetitionPenalty, generationDefaults, sampleNextToken, samplingDistribution } from '../src/model/sampling';
import { mulberry32 } from '../src/util/random';

const noRng = () => {
  throw new Error('greedy must not draw');
};

function softmax(x: number[]): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe('sampleNextToken', () => {
  it('greedy is the argmax (lowest id on ties), when doSample is off or temperature is 0', () => {
    const logits = Float32Array.from([0.1, 2.5, -1, 2.5, 0]);
    expect(sampleNextToken(logits, [], {}, noRng)).toBe(1);
    expect(sampleNextToken(logits, [], { doSample: false, temperature: 0.7, topK: 3 }, noRng)).toBe(1);
    expect(sampleNextToken(logits, [], { doSample: true, temperature: 0 }, noRng)).toBe(1);
    expect(sampleNextToken(Float64Array.from([-3, -2, -7]), [], {}, noRng)).toBe(1);
  });

  it('repetition penalty, worked by hand: positive logits divided, negative multiplied, each seen id once', () => {
    // ids 0 (2 → 1), 1 (−1 → −2, seen twice, penalised once), 2 not seen, 3 (3 → 1.5)
    expect(Array.from(applyRepetitionPenalty([2, -1, 0.5, 3], [0, 1, 1, 3], 2))).toEqual([1, -2, 0.5, 1.5]);
    // It changes the greedy choice: 3 → 2 for the repeated id 0, so id 1 (2.5) wins.
    expect(sampleNextToken(Float64Array.from([3, 2.5, -1]), [], { repetitionPenalty: 1.5 }, noRng)).toBe(0);
    expect(sampleNextToken(Float64Array.from([3, 2.5, -1]), [0], { repetitionPenalty: 1.5 }, noRng)).toBe(1);
    // A penalty below 1 rewards repetition the same way.
    expect(sampleNextToken(Float64Array.from([1, 1.5, -1]), [0], { repetitionPenalty: 0.5 }, noRng)).toBe(0);
    expect(() => applyRepetitionPenalty([1, 2], [2], 1.3)).toThrow(RangeError);
  });

  it('top-k = 1 is greedy, whatever the draw', () => {
    const rng = mulberry32(5);
    for (let trial = 0; trial < 50; trial++) {
      const logits = Float64Array.from({ length: 12 }, () => rng() * 4 - 2);
      const prev = [Math.floor(rng() * 12)];
      const greedy = sampleNextToken(logits, prev, { repetitionPenalty: 1.3 }, noRng);
      expect(sampleNextToken(logits, prev, { doSample: true, topK: 1, temperature: 1.7, repetitionPenalty: 1.3 }, rng)).toBe(greedy);
    }
  });

  it('top-k keeps the k largest, renormalised', () => {
    const logits = [0, Math.log(2), Math.log(3), Math.log(4)];
    const p = samplingDistribution(logits, [], { doSample: true, topK: 2 });
    expect(p[0]).toBe(0);
    expect(p[1]).toBe(0);
    expect(p[2]).toBeCloseTo(3 / 7, 14);
    expect(p[3]).toBeCloseTo(4 / 7, 14);
  });

  it('top-p keeps the smallest most-likely set reaching top_p (hand example)', () => {
    const probs = [0.5, 0.3, 0.15, 0.05];
    const logits = Float64Array.from(probs.map(Math.log));
    const kept = (topP: number) => Array.from(samplingDistribution(logits, [], { doSample: true, topP }), (p) => p > 0);
    // 0.5 alone is < 0.7; 0.5 + 0.3 = 0.8 ≥ 0.7.
    expect(kept(0.7)).toEqual([true, true, false, false]);
    expect(Array.from(samplingDistribution(logits, [], { doSample: true, topP: 0.7 }))).toEqual([
      expect.closeTo(0.625, 12),
      expect.closeTo(0.375, 12),
      0,
      0,
    ]);
    expect(kept(0.4)).toEqual([true, false, false, false]);
    expect(kept(0.9)).toEqual([true, true, true, false]);
    expect(kept(0.99)).toEqual([true, true, true, true]);
    expect(kept(1)).toEqual([true, true, true, true]);
    // At least one token survives even for a tiny top_p.
    expect(kept(1e-9)).toEqual([true, false, false, false]);
    // Drawing never leaves the kept set.
    const rng = mulberry32(9);
    for (let i = 0; i < 200; i++) expect(sampleNextToken(logits, [], { doSample: true, topP: 0.7 }, rng)).toBeLessThan(2);
  });

  it('the same seed gives the same sequence; another seed differs on a flat distribution', () => {
    const flat = new Float32Array(16);
    const draw = (seed: number) => {
      const rng = mulberry32(seed);
      return Array.from({ length: 64 }, () => sampleNextToken(flat, [], { doSample: true, temperature: 0.8 }, rng));
    };
    expect(draw(123)).toEqual(draw(123));
    expect(draw(123)).not.toEqual(draw(124));
    expect(new Set(draw(123)).size).toBeGreaterThan(8);
  });

  it('frequencies over 20k draws match softmax(logits / T) within 1.5%', () => {
    const logits = [1, 0.5, -0.3, 2, 0, -1.2];
    const T = 0.7;
    const expected = softmax(logits.map((v) => v / T));
    const counts = new Array(logits.length).fill(0);
    const rng = mulberry32(2024);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleNextToken(Float32Array.from(logits), [], { doSample: true, temperature: T }, rng)]++;
    for (let i = 0; i < logits.length; i++) expect(Math.abs(counts[i] / n - expected[i])).toBeLessThan(0.015);
  });

  it('rejects bad options with RangeErrors that name them', () => {
    const l = Float32Array.from([1, 2]);
    const r = mulberry32(1);
    expect(() => sampleNextToken(l, [], { temperature: -1 }, r)).toThrow(/temperature/);
    expect(() => sampleNextToken(l, [], { temperature: NaN }, r)).toThrow(/temperature/);
    expect(() => sampleNextToken(l, [], { topK: 1.5 }, r)).toThrow(/topK/);
    expect(() => sampleNextToken(l, [], { topK: -1 }, r)).toThrow(/topK/);
    expect(() => sampleNextToken(l, [], { topP: 0 }, r)).toThrow(/topP/);
    expect(() => sampleNextToken(l, [], { topP: 1.01 }, r)).toThrow(/topP/);
    expect(() => sampleNextToken(l, [], { repetitionPenalty: 0 }, r)).toThrow(/repetitionPenalty/);
    expect(() => sampleNextToken(l, [], { repetitionPenalty: -2 }, r)).toThrow(RangeError);
  });
});

describe('generationDefaults', () => {
  it("reads generation_config.json's sampling fields under transformers' names", () => {
    expect(generationDefaults({ do_sample: true, temperature: 0.7, top_k: 20, top_p: 0.9, repetition_penalty: 1.2, max_new_tokens: 40, eos_token_id: 3 })).toEqual({
      doSample: true,
      temperature: 0.7,
      topK: 20,
      topP: 0.9,
      repetitionPenalty: 1.2,
      maxNewTokens: 40,
    });
    expect(generationDefaults(null)).toEqual({});
    expect(generationDefaults({ temperature: 'hot', do_sample: 1 })).toEqual({});
  });

  it('names the field that is out of range', () => {
    expect(() => generationDefaults({ top_p: 1.5 })).toThrow(/generation_config.json: topP must be in \(0, 1\]/);
    expect(() => generationDefaults({ max_new_tokens: -1 })).toThrow(/generation_config.json: max_new_tokens/);
  });
});
