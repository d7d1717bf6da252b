/**
 * Examples to training batches: a seeded order per epoch, batches of `batchSize` in that order (the last one may
 * be smaller, so every example appears exactly once per epoch), each padded on the right to its longest example
 * with attention mask 0 and label −100 on the padding. Also the train/validation split and token counts.
 */
import type { TrainBatch } from '../engine/batch';
import { mulberry32 } from '../util/random';
import { DatasetError } from './records';
import { countedLabels, IGNORE_INDEX, type TokenizedExample } from './tokenize';

export type { TokenizedExample } from './tokenize';

/**
 * The order of `n` examples in `epoch`: a Fisher–Yates shuffle of 0..n−1 driven by mulberry32(seed + epoch).
 * A checkpoint can store (seed, epoch, step) and rebuild the same order.
 */
export function datasetOrder(n: number, seed: number, epoch: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new DatasetError(`datasetOrder: n must be a non-negative integer, got ${n}`);
  const order = Array.from({ length: n }, (_, i) => i);
  const next = mulberry32((seed + epoch) >>> 0);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

export interface BatchOptions {
  batchSize: number;
  seed: number;
  epoch: number;
  padTokenId: number;
  /** Shuffle with datasetOrder(n, seed, epoch) (default true); false keeps the examples' order. */
  shuffle?: boolean;
}

/** A TrainBatch, plus the file positions of its rows (for messages and debugging). */
export interface DataBatch extends TrainBatch {
  attentionMask: number[][];
  lines: number[];
}

export function makeBatches(examples: readonly TokenizedExample[], opts: BatchOptions): DataBatch[] {
  const { batchSize, seed, epoch, padTokenId } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DatasetError(`makeBatches: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(padTokenId) || padTokenId < 0) throw new DatasetError(`makeBatches: padTokenId must be a token id, got ${padTokenId}`);
  const order = (opts.shuffle ?? true) ? datasetOrder(examples.length, seed, epoch) : examples.map((_, i) => i);
  const batches: DataBatch[] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    const rows = order.slice(start, start + batchSize).map((i) => examples[i]);
    const T = Math.max(...rows.map((r) => r.inputIds.length));
    const batch: DataBatch = { inputIds: [], attentionMask: [], labels: [], lines: [] };
    for (const r of rows) {
      if (r.labels.length !== r.inputIds.length) {
        throw new DatasetError(`makeBatches: the example from line ${r.line} has ${r.inputIds.length} ids and ${r.labels.length} labels`);
      }
      const pad = T - r.inputIds.length;
      batch.inputIds.push([...r.inputIds, ...new Array<number>(pad).fill(padTokenId)]);
      batch.attentionMask.push([...new Array<number>(r.inputIds.length).fill(1), ...new Array<number>(pad).fill(0)]);
      batch.labels.push([...r.labels, ...new Array<number>(pad).fill(IGNORE_INDEX)]);
      batch.lines.push(r.line);
    }
    batches.push(batch);
  }
  return batches;
}

/**
 * A deterministic split: round(n·fraction) examples, at least one and at most n − 1 when fraction > 0 and n ≥ 2,
 * chosen by a seeded shuffle; both parts keep the examples' original order. fraction 0 (or n < 2) gives an empty
 * validation set.
 */
export function splitValidation<T>(examples: readonly T[], fraction: number, seed: number): { train: T[]; validation: T[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new DatasetError(`splitValidation: fraction must be in [0, 1), got ${fraction}`);
  const n = examples.length;
  if (fraction === 0 || n < 2) return { train: examples.slice(), validation: [] };
  const k = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
  // A stream apart from datasetOrder's, so the split does not mirror the epoch-0 order.
  const picked = new Set(datasetOrder(n, (seed ^ 0x5bd1e995) >>> 0, 0).slice(0, k));
  const train: T[] = [];
  const validation: T[] = [];
  examples.forEach((e, i) => (picked.has(i) ? validation : train).push(e));
  return { train, validation };
}

export interface TokenCounts {
  examples: number;
  /** All input tokens (no padding). */
  tokens: number;
  /** Tokens the loss counts (labels other than −100, after the shift). */
  trainedTokens: number;
  longest: number;
}

export function countTokens(examples: readonly TokenizedExample[]): TokenCounts {
  let tokens = 0;
  let trainedTokens = 0;
  let longest = 0;
  for (const e of examples) {
    tokens += e.inputIds.length;
    trainedTokens += countedLabels(e.labels);
    longest = Math.max(longest, e.inputIds.length);
  }
  return { examples: examples.length, tokens, trainedTokens, longest };
}
