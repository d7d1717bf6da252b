/**
 * Rows in front of every sequence: a method's virtual-token embeddings in front of the token embeddings, and its
 * prefix keys and values in front of each sequence's own. The forward copies the shared rows [P, W] into each of
 * the B sequences of a [B·(P + T), W] tensor (buffer copies, no shader); the backward sums their gradients over
 * the sequences (one reduction against a column of ones). The float64 counterpart is `prependRows` (tape.ts).
 */
import { encodeLoraWeightGrad } from '../kernels/lora-rank';
import type { GpuTensor } from '../kernels/tensor';
import type { PassContext } from './method-hooks';

function rowBytes(t: GpuTensor): number {
  return (t.shape[1] ?? 1) * 4;
}

/** Copies `count` rows per sequence from src (rows srcOffset… of each of its sequences) to dst (rows dstOffset…). */
export function copySequenceRows(
  ctx: PassContext,
  src: GpuTensor,
  srcPerSequence: number,
  srcOffset: number,
  dst: GpuTensor,
  dstPerSequence: number,
  dstOffset: number,
  count: number,
  sequences: number,
): void {
  const w = rowBytes(src);
  if (count === 0) return;
  for (let b = 0; b < sequences; b++) {
    ctx.rec.encoder.copyBufferToBuffer(src.buffer, (b * srcPerSequence + srcOffset) * w, dst.buffer, (b * dstPerSequence + dstOffset) * w, count * w);
  }
}

/** dst [B·(P + T), W] = [prefix; x_b] for each sequence b of x [B·T, W]. */
export function prependRows(ctx: PassContext, prefix: GpuTensor, x: GpuTensor, sequences: number, name: string): GpuTensor {
  const P = prefix.shape[0];
  const T = x.shape[0] / sequences;
  const W = x.shape[1];
  const out = ctx.tensor([sequences * (P + T), W], name);
  writePrefixRows(ctx, prefix, out, sequences);
  copySequenceRows(ctx, x, T, 0, out, P + T, P, T, sequences);
  return out;
}

/** Writes prefix [P, W] into the first P rows of each of the sequences of dst. */
export function writePrefixRows(ctx: PassContext, prefix: GpuTensor, dst: GpuTensor, sequences: number): void {
  const S = dst.shape[0] / sequences;
  for (let b = 0; b < sequences; b++) {
    ctx.rec.encoder.copyBufferToBuffer(prefix.buffer, 0, dst.buffer, b * S * rowBytes(dst), prefix.shape[0] * rowBytes(dst));
  }
}

/** Σ over the sequences of the first P rows of each: [P, W] from full [B·S, W]. */
export function sumPrefixRows(ctx: PassContext, full: GpuTensor, sequences: number, P: number, name: string): GpuTensor {
  const W = full.shape[1];
  const S = full.shape[0] / sequences;
  // Each sequence's P rows side by side: [B, P·W], then onesᵀ·that = [1, P·W].
  const gathered = ctx.tensor([sequences, P * W], `${name} per sequence`);
  copySequenceRows(ctx, full, S, 0, gathered, P, 0, P, sequences);
  const ones = ctx.tensor([sequences, 1], `${name} ones`, { hostWritten: true });
  ctx.rec.gpu.device.queue.writeBuffer(ones.buffer, 0, new Float32Array(sequences).fill(1));
  const sum = ctx.tensor([1, P * W], name);
  encodeLoraWeightGrad(ctx.rec, `${name} (sum over sequences)`, { left: ones, right: gathered, out: sum, scale: 1 });
  return { ...sum, shape: [P, W] };
}
