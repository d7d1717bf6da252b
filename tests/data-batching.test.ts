import { describe, expect, it } from 'vitest';
import { countTokens, datasetOrder, DatasetError, IGNORE_INDEX, makeBatches, splitValidation, type TokenizedExample } from '../src/data';
import { mulberry32 } from '../src/util/random';

/** n examples of lengths 1..7; example i starts with token 1000 + i, labels −100 on the first token. */
function examples(n: number): TokenizedExample[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 1 + ((i * 5) % 7);
    const inputIds = Array.from({ length: len }, (_, t) => (t === 0 ? 1000 + i : t));
    return { inputIds, labels: inputIds.map((id, t) => (t === 0 ? IGNORE_INDEX : id)), line: i + 1 };
  });
}

describe('datasetOrder', () => {
  it('is a Fisher–Yates permutation driven by mulberry32(seed + epoch)', () => {
    const next = mulberry32(42 + 3);
    const expected = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    for (let i = expected.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [expected[i], expected[j]] = [expected[j], expected[i]];
    }
    expect(datasetOrder(10, 42, 3)).toEqual(expected);
  });

  it('is reproducible, a permutation, and differs across epochs and seeds', () => {
    const a = datasetOrder(50, 7, 0);
    expect(datasetOrder(50, 7, 0)).toEqual(a);
    expect(a.slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(datasetOrder(50, 7, 1)).not.toEqual(a);
    expect(datasetOrder(50, 8, 0)).not.toEqual(a);
    expect(datasetOrder(0, 1, 0)).toEqual([]);
    expect(datasetOrder(1, 1, 0)).toEqual([0]);
  });
});

describe('makeBatches', () => {
  const data = examples(11);
  const opts = { batchSize: 4, seed: 5, epoch: 0, padTokenId: 99 };

  it('pads each batch on the right to its longest example, mask 0 and labels −100 on padding', () => {
    const batches = makeBatches(data, opts);
    expect(batches.map((b) => b.inputIds.length)).toEqual([4, 4, 3]);
    for (const b of batches) {
      const T = Math.max(...b.lines.map((line) => data[line - 1].inputIds.length));
      b.inputIds.forEach((row, r) => {
        const ex = data[b.lines[r] - 1];
        const len = ex.inputIds.length;
        expect(row).toHaveLength(T);
        expect(b.labels[r]).toHaveLength(T);
        expect(b.attentionMask[r]).toHaveLength(T);
        expect(row.slice(0, len)).toEqual(ex.inputIds);
        expect(b.labels[r].slice(0, len)).toEqual(ex.labels);
        expect(row.slice(len).every((x) => x === 99)).toBe(true);
        expect(b.labels[r].slice(len).every((x) => x === IGNORE_INDEX)).toBe(true);
        expect(b.attentionMask[r]).toEqual([...Array(len).fill(1), ...Array(T - len).fill(0)]);
      });
    }
  });

  it('follows datasetOrder: reproducible, every example once per epoch, epochs differ', () => {
    const lines = (epoch: number) => makeBatches(data, { ...opts, epoch }).flatMap((b) => b.lines);
    expect(lines(0)).toEqual(datasetOrder(11, 5, 0).map((i) => i + 1));
    expect(lines(0)).toEqual(lines(0));
    for (const epoch of [0, 1, 2]) expect(lines(epoch).slice().sort((a, b) => a - b)).toEqual(data.map((e) => e.line));
    expect(lines(1)).not.toEqual(lines(0));
    // Same ids, row for row, on a second call.
    expect(makeBatches(data, { ...opts, epoch: 1 })).toEqual(makeBatches(data, { ...opts, epoch: 1 }));
  });

  it('keeps the order with shuffle: false', () => {
    expect(makeBatches(data, { ...opts, shuffle: false }).flatMap((b) => b.lines)).toEqual(data.map((e) => e.line));
  });

  it('refuses a bad batch size or pad id', () => {
    expect(() => makeBatches(data, { ...opts, batchSize: 0 })).toThrow(DatasetError);
    expect(() => makeBatches(data, { ...opts, padTokenId: -1 })).toThrow(DatasetError);
    expect(makeBatches([], opts)).toEqual([]);
  });
});

describe('splitValidation', () => {
  const data = examples(20);

  it('is deterministic, disjoint, complete, and keeps the original order', () => {
    const a = splitValidation(data, 0.2, 3);
    expect(splitValidation(data, 0.2, 3)).toEqual(a);
    expect(a.validation).toHaveLength(4);
    expect(a.train).toHaveLength(16);
    const all = [...a.train, ...a.validation].map((e) => e.line).sort((x, y) => x - y);
    expect(all).toEqual(data.map((e) => e.line));
    for (const part of [a.train, a.validation]) {
      const lines = part.map((e) => e.line);
      expect(lines).toEqual(lines.slice().sort((x, y) => x - y));
    }
    expect(splitValidation(data, 0.2, 4).validation).not.toEqual(a.validation);
  });

  it('gives at least one example to each side when fraction > 0 and n ≥ 2', () => {
    expect(splitValidation(examples(2), 0.01, 1).validation).toHaveLength(1);
    expect(splitValidation(examples(2), 0.01, 1).train).toHaveLength(1);
    expect(splitValidation(examples(3), 0.99, 1).train).toHaveLength(1);
    expect(splitValidation(examples(1), 0.5, 1)).toEqual({ train: examples(1), validation: [] });
    expect(splitValidation(data, 0, 1)).toEqual({ train: data, validation: [] });
    expect(() => splitValidation(data, 1, 1)).toThrow(DatasetError);
  });
});

describe('countTokens', () => {
  it('counts tokens, trained tokens (after the shift) and the longest example', () => {
    const ex: TokenizedExample[] = [
      { inputIds: [1, 2, 3, 4], labels: [1, IGNORE_INDEX, 3, 4], line: 1 },
      { inputIds: [5, 6], labels: [5, 6], line: 2 },
    ];
    expect(countTokens(ex)).toEqual({ examples: 2, tokens: 6, trainedTokens: 3, longest: 4 });
  });
});
