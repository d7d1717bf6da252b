/**
 * A batch of token sequences checked and laid out for the GPU: B rows of equal length T (right-padded). A
 * method's virtual tokens (n, prompt tuning) come first in every sequence, so each holds S = n + T positions and
 * the pass has M = B·S rows; a method's attention prefix (P keys and values, prefix tuning) moves every position
 * up by P, as transformers counts a cache of length P. Labels follow Hugging Face's causal-LM convention:
 * labels[b][t] is the token the model should produce at position t, −100 ignores a position, virtual tokens
 * carry −100 (the last one predicts the first token), and the shift (logits at t predict the label at t + 1)
 * happens here.
 */
import { checkIndicesBelow, type GpuIndexTensor } from '../kernels/index-tensor';
import type { ActivationPool } from './activation-pool';
import type { ModelConfig } from '../model/config';

export const IGNORE_INDEX = -100;

export interface TokenBatch {
  inputIds: number[][];
  /** 1 for real tokens, 0 for padding; all ones when left out. */
  attentionMask?: number[][];
}

export interface TrainBatch extends TokenBatch {
  labels: number[][];
}

/** What a method adds around the tokens: virtual tokens in front of them, and an attention prefix. */
export interface SequenceExtras {
  virtualTokens: number;
  prefixLength: number;
}

export const NO_EXTRAS: SequenceExtras = { virtualTokens: 0, prefixLength: 0 };

export interface BatchLayout extends SequenceExtras {
  B: number;
  /** Tokens per sequence. */
  T: number;
  /** Positions per sequence: virtual tokens + T. */
  S: number;
  /** Rows: B·S. */
  M: number;
  /** [M]; virtual positions hold 0 (their embeddings come from the method). */
  ids: Uint32Array;
  /** [M]: prefixLength + position in the sequence. */
  positions: Uint32Array;
  /** [B·(prefixLength + S)] over every key (prefix, virtual tokens, tokens); null when no token is padding. */
  keyMask: Uint32Array | null;
  /** Shifted targets [M], −100 where ignored; null without labels. */
  targets: Int32Array | null;
  /** Number of targets that count toward the loss. */
  counted: number;
}

export class BatchError extends Error {
  override name = 'BatchError';
}

export function layoutBatch(c: ModelConfig, batch: TokenBatch & { labels?: number[][] }, extras: SequenceExtras = NO_EXTRAS): BatchLayout {
  const B = batch.inputIds.length;
  if (B === 0) throw new BatchError('batch: inputIds is empty');
  const T = batch.inputIds[0].length;
  if (T === 0) throw new BatchError('batch: sequences are empty');
  const { virtualTokens: n, prefixLength: P } = extras;
  const S = n + T;
  if (P + S > c.maxPositions) {
    const parts = [n > 0 ? `${n} virtual tokens` : '', P > 0 ? `a prefix of ${P}` : ''].filter(Boolean).join(' and ');
    throw new BatchError(`batch: sequence length ${T}${parts ? ` with ${parts}` : ''} exceeds the model's ${c.maxPositions} positions`);
  }
  const M = B * S;
  const keys = P + S;
  const ids = new Uint32Array(M);
  const positions = new Uint32Array(M);
  let padded = false;
  const keyMask = new Uint32Array(B * keys).fill(1);
  batch.inputIds.forEach((row, b) => {
    if (row.length !== T) throw new BatchError(`batch: row ${b} has ${row.length} tokens, row 0 has ${T}; pad rows to one length`);
    checkIndicesBelow(row, c.vocabSize, `batch row ${b}`, 'token id', 'vocabulary size');
    for (let t = 0; t < S; t++) {
      ids[b * S + t] = t < n ? 0 : row[t - n];
      positions[b * S + t] = P + t;
    }
    const mask = batch.attentionMask?.[b];
    if (mask) {
      if (mask.length !== T) throw new BatchError(`batch: attention mask row ${b} has ${mask.length} entries, expected ${T}`);
      mask.forEach((v, t) => {
        if (v !== 0 && v !== 1) throw new BatchError(`batch: attention mask row ${b} position ${t} is ${v}, expected 0 or 1`);
        keyMask[b * keys + P + n + t] = v;
        if (v === 0) padded = true;
      });
    }
  });
  if (batch.attentionMask && batch.attentionMask.length !== B) {
    throw new BatchError(`batch: attention mask has ${batch.attentionMask.length} rows, inputIds has ${B}`);
  }
  let targets: Int32Array | null = null;
  let counted = 0;
  if (batch.labels) {
    if (batch.labels.length !== B) throw new BatchError(`batch: labels has ${batch.labels.length} rows, inputIds has ${B}`);
    targets = new Int32Array(M).fill(IGNORE_INDEX);
    batch.labels.forEach((row, b) => {
      if (row.length !== T) throw new BatchError(`batch: labels row ${b} has ${row.length} entries, expected ${T}`);
      // Position s predicts the token at s + 1; virtual positions have no label of their own.
      for (let s = Math.max(0, n - 1); s + 1 < S; s++) {
        const t = s + 1 - n;
        const label = row[t];
        if (label === IGNORE_INDEX) continue;
        if (!Number.isInteger(label) || label < 0 || label >= c.vocabSize) {
          throw new BatchError(`batch: label ${label} at row ${b} position ${t} is outside [0, ${c.vocabSize}) and is not ${IGNORE_INDEX}`);
        }
        targets![b * S + s] = label;
        counted++;
      }
    });
    if (counted === 0) throw new BatchError('batch: every label is ignored (−100); there is nothing to learn from');
  }
  return { B, T, S, M, virtualTokens: n, prefixLength: P, ids, positions, keyMask: padded ? keyMask : null, targets, counted };
}

export interface GpuBatch {
  layout: BatchLayout;
  ids: GpuIndexTensor;
  positions: GpuIndexTensor;
  keyMask: GpuIndexTensor | null;
  targets: GpuIndexTensor | null;
}

/**
 * The batch's index tensors on the GPU, in buffers of the pass's activation pool: a run of same-shaped batches
 * writes into the same buffers every step (released with the pass's other activations).
 */
export function uploadBatch(pool: ActivationPool, layout: BatchLayout): GpuBatch {
  return {
    layout,
    ids: pool.indices(layout.ids, 'input_ids'),
    positions: pool.indices(layout.positions, 'position_ids'),
    keyMask: layout.keyMask ? pool.indices(layout.keyMask, 'attention_mask') : null,
    targets: layout.targets ? pool.indices(layout.targets, 'targets') : null,
  };
}
