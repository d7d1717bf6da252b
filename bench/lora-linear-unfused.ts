/**
 * The LoRA linear layer as separate plain dispatches: the baseline the fused kernels are measured against
 * in `npm run bench:kernels`. Same math as src/kernels/lora-linear.ts; W0 must be f32 here, read by the naive matmul.
 *
 * forward:  xd = dropout(x); xa = xd·Aᵀ; lo = xa·Bᵀ; base = x·W0ᵀ; y = base + s·lo + b      (6 dispatches)
 * backward: g = dy·B; gA = g·A; base = dy·W0; dx = base + s·mask ⊙ gA;
 *           dA = s·gᵀ·xd; dB = s·dyᵀ·xa                                                       (6 dispatches)
 */
import type { CommandRecorder } from '../src/kernels/dispatch';
import { encodeElementwise, encodeNaiveMatmul } from '../src/kernels/plain-ops';
import type { GpuTensor } from '../src/kernels/tensor';
import type { DropoutSpec } from '../src/kernels/linear';

export interface UnfusedLayer {
  w0: GpuTensor; // f32 [out, in]
  bias: GpuTensor | null;
  a: GpuTensor;
  b: GpuTensor;
  scale: number;
  dropout: DropoutSpec;
}

/** Scratch tensors of the unfused path, sized for one (M, in, out, r). */
export interface UnfusedScratch {
  xd: GpuTensor; // [M, in]
  lo: GpuTensor; // [M, out]
  base: GpuTensor; // [M, out] in the forward; dxBase [M, in] in the backward
  dxBase: GpuTensor;
  gA: GpuTensor; // [M, in]
}

export function encodeUnfusedForward(rec: CommandRecorder, L: UnfusedLayer, s: UnfusedScratch, x: GpuTensor, xa: GpuTensor, y: GpuTensor): void {
  encodeElementwise(rec, { a: x, dropout: L.dropout, out: s.xd });
  encodeNaiveMatmul(rec, { a: s.xd, b: L.a, transB: true, c: xa });
  encodeNaiveMatmul(rec, { a: xa, b: L.b, transB: true, c: s.lo });
  encodeNaiveMatmul(rec, { a: x, b: L.w0, transB: true, c: s.base });
  encodeElementwise(rec, { a: s.base, b: s.lo, alpha: L.scale, bias: L.bias, out: y });
}

export function encodeUnfusedBackward(
  rec: CommandRecorder,
  L: UnfusedLayer,
  s: UnfusedScratch,
  grads: { dy: GpuTensor; xa: GpuTensor; g: GpuTensor; dx: GpuTensor; dA: GpuTensor; dB: GpuTensor },
): void {
  encodeNaiveMatmul(rec, { a: grads.dy, b: L.b, c: grads.g });
  encodeNaiveMatmul(rec, { a: grads.g, b: L.a, c: s.gA });
  encodeNaiveMatmul(rec, { a: grads.dy, b: L.w0, c: s.dxBase });
  encodeElementwise(rec, { a: s.dxBase, b: s.gA, alpha: L.scale, dropout: L.dropout, out: grads.dx });
  encodeNaiveMatmul(rec, { a: grads.g, transA: true, b: s.xd, c: grads.dA, alpha: L.scale });
  encodeNaiveMatmul(rec, { a: grads.dy, transA: true, b: grads.xa, c: grads.dB, alpha: L.scale });
}
