/**
 * A batch of token sequences checked and laid out for the GPU: B rows of equal length T (right-padded),
 * flattened to M = B·T tokens. Labels follow Hugging Face's causal-LM convention: labels[b][t] is the token
 * the model should produce at position t, −100 ignores a position, and the shift (logits at t predict the
 * label at t + 1) happens here.
 */
import { checkIndicesBelow, indexTensorFrom, type GpuIndexTensor } from '../kernels/index-tensor';
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

export interface BatchLayout {
  B: number;
  T: number;
  M: number;
  ids: Uint32Array;
  positions: Uint32Array;
  /** null when no token is padding. */
  keyMask: Uint32Array | null;
  /** Shifted targets [M], −100 where ignored; null without labels. */
  targets: Int32Array | null;
  /** Number of targets that count toward the loss. */
  counted: number;
}

export class BatchError extends Error {
  override name = 'BatchError';
}

export function layoutBatch(c: ModelConfig, batch: TokenBatch & { labels?: number[][] }): BatchLayout {
  const B = batch.inputIds.length;
  if (B === 0) throw new BatchError('batch: inputIds is empty');
  const T = batch.inputIds[0].length;
  if (T === 0) throw new BatchError('batch: sequences are empty');
  if (T > c.maxPositions) throw new BatchError(`batch: sequence length ${T} exceeds the model's ${c.maxPositions} positions`);
  const M = B * T;
  const ids = new Uint32Array(M);
  const positions = new Uint32Array(M);
  let padded = false;
  const keyMask = new Uint32Array(M).fill(1);
  batch.inputIds.forEach((row, b) => {
    if (row.length !== T) throw new BatchError(`batch: row ${b} has ${row.length} tokens, row 0 has ${T}; pad rows to one length`);
    checkIndicesBelow(row, c.vocabSize, `batch row ${b}`, 'token id', 'vocabulary size');
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = row[t];
      positions[b * T + t] = t;
    }
    const mask = batch.attentionMask?.[b];
    if (mask) {
      if (mask.length !== T) throw new BatchError(`batch: attention mask row ${b} has ${mask.length} entries, expected ${T}`);
      mask.forEach((v, t) => {
        if (v !== 0 && v !== 1) throw new BatchError(`batch: attention mask row ${b} position ${t} is ${v}, expected 0 or 1`);
        keyMask[b * T + t] = v;
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
      for (let t = 0; t + 1 < T; t++) {
        const label = row[t + 1];
        if (label === IGNORE_INDEX) continue;
        if (!Number.isInteger(label) || label < 0 || label >= c.vocabSize) {
          throw new BatchError(`batch: label ${label} at row ${b} position ${t + 1} is outside [0, ${c.vocabSize}) and is not ${IGNORE_INDEX}`);
        }
        targets![b * T + t] = label;
        counted++;
      }
    });
    if (counted === 0) throw new BatchError('batch: every label is ignored (−100); there is nothing to learn from');
  }
  return { B, T, M, ids, positions, keyMask: padded ? keyMask : null, targets, counted };
}

export interface GpuBatch {
  layout: BatchLayout;
  ids: GpuIndexTensor;
  positions: GpuIndexTensor;
  keyMask: GpuIndexTensor | null;
  targets: GpuIndexTensor | null;
  destroy(): void;
}

export function uploadBatch(device: GPUDevice, layout: BatchLayout): GpuBatch {
  const ids = indexTensorFrom(device, layout.ids, 'input_ids');
  const positions = indexTensorFrom(device, layout.positions, 'position_ids');
  const keyMask = layout.keyMask ? indexTensorFrom(device, layout.keyMask, 'attention_mask') : null;
  const targets = layout.targets ? indexTensorFrom(device, layout.targets, 'targets') : null;
  return {
    layout,
    ids,
    positions,
    keyMask,
    targets,
    destroy() {
      for (const t of [ids, positions, keyMask, targets]) t?.buffer.destroy();
    },
  };
}
