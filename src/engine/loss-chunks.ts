/** How many rows the loss takes at a time (lm-head-loss.ts), GPU-free so that the memory plan shares it. */

/** Bytes of one chunk's logits (and, in place, their gradient) when the caller sets no chunk size. */
export const LOGITS_CHUNK_BYTES = 64 * 2 ** 20;

/**
 * Rows per chunk: as many as fit LOGITS_CHUNK_BYTES of logits (and the device's binding limit), at least one, at
 * most every row. The engine (lm-head-loss.ts) and the memory plan (memory-plan.ts) call it alike.
 */
export function lossChunkRows(rows: number, vocabSize: number, maxBindingBytes: number, requested?: number): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 1) throw new RangeError(`loss chunk rows must be an integer ≥ 1, got ${requested}`);
    return Math.min(rows, requested);
  }
  const fit = Math.floor(Math.min(LOGITS_CHUNK_BYTES, maxBindingBytes) / (4 * vocabSize));
  return Math.max(1, Math.min(rows, fit));
}
