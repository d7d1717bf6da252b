/**
 * The causal-LM loss from lm_head's input, a chunk of rows at a time: logits = h·Wᵀ for C rows, their
 * cross-entropy (ignore index −100) and, for training, the gradient back to h (dh = dLogits·W) — so that the
 * [rows × vocabulary] logits and their gradient never exist at once. With a tied lm_head, W is the embedding
 * table itself (gpu-model.ts): no second copy of it is made.
 *
 * The chunk's tensors are taken once and reused by every chunk (the last one, when shorter, uses their first
 * rows), and handed back to the pool at the end. Rows move in and out of them by buffer copies.
 */
import { encodeCrossEntropy } from '../kernels/cross-entropy';
import type { GpuIndexTensor } from '../kernels/index-tensor';
import { encodeLinearBackwardInput, encodeLinearForward } from '../kernels/linear';
import type { GpuTensor } from '../kernels/tensor';
import { lossChunkRows } from './loss-chunks';
import type { Pass } from './pass';

export interface LmHeadLossArgs {
  /** lm_head's input [rows, d]. */
  h: GpuTensor;
  /** [rows] next-token targets, −100 where ignored. */
  targets: GpuIndexTensor;
  invCount: number;
  /** [rows] per-row loss (written). */
  rowLoss: GpuTensor;
  /** [rows, d] the gradient of h (written), or null for the loss alone. */
  dh: GpuTensor | null;
  /** Rows per chunk (lossChunkRows's `requested`); absent: from LOGITS_CHUNK_BYTES. */
  chunkRows?: number;
}

export function encodeLmHeadLoss(p: Pass, args: LmHeadLossArgs): void {
  const { h, targets, rowLoss, dh, invCount } = args;
  const [rows, d] = h.shape;
  const V = p.model.config.vocabSize;
  const w0 = p.model.lmHead;
  const limits = p.rec.limits;
  const C = lossChunkRows(rows, V, Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize), args.chunkRows);
  const mark = p.mark();
  const logits = p.tensor([C, V], 'logits chunk');
  if (C === rows) {
    encodeLinearForward(p.rec, { x: h, w0, y: logits });
    // The logits' gradient overwrites the logits, which nothing needs afterwards.
    encodeCrossEntropy(p.rec, { logits, targets, invCount, rowLoss, dLogits: logits });
    if (dh) encodeLinearBackwardInput(p.rec, { dy: logits, w0, dx: dh });
    p.freeSince(mark);
    return;
  }
  const hc = p.tensor([C, d], 'lm_head input chunk');
  const lossC = p.tensor([C], 'row loss chunk');
  const targetsC: GpuIndexTensor = { buffer: p.tensor([C], 'targets chunk').buffer, length: C, name: 'targets chunk' };
  const dhc = dh ? p.tensor([C, d], 'd lm_head input chunk') : null;
  const enc = p.rec.encoder;
  for (let r0 = 0; r0 < rows; r0 += C) {
    const n = Math.min(C, rows - r0);
    const rowsOf = (t: GpuTensor): GpuTensor => (n === C ? t : { ...t, shape: [n, ...t.shape.slice(1)] });
    enc.copyBufferToBuffer(h.buffer, r0 * d * 4, hc.buffer, 0, n * d * 4);
    enc.copyBufferToBuffer(targets.buffer, r0 * 4, targetsC.buffer, 0, n * 4);
    const logitsN = rowsOf(logits);
    encodeLinearForward(p.rec, { x: rowsOf(hc), w0, y: logitsN });
    encodeCrossEntropy(p.rec, { logits: logitsN, targets: { ...targetsC, length: n }, invCount, rowLoss: rowsOf(lossC), dLogits: logitsN });
    enc.copyBufferToBuffer(lossC.buffer, 0, rowLoss.buffer, r0 * 4, n * 4);
    if (dh && dhc) {
      encodeLinearBackwardInput(p.rec, { dy: logitsN, w0, dx: rowsOf(dhc) });
      enc.copyBufferToBuffer(dhc.buffer, 0, dh.buffer, r0 * d * 4, n * d * 4);
    }
  }
  p.freeSince(mark);
}
