/**
 * The fused LoRA linear layer: y = x·W0ᵀ + b + s·(dropout(x)·Aᵀ)·Bᵀ, and its backward to x, A and B.
 * PEFT's forward, `result + lora_B(lora_A(dropout(x))) * scaling`, with W0 frozen in its packed format.
 *
 * forward:  xa = dropout(x)·Aᵀ                      lora_down          [M, r], kept for the backward
 *           y  = x·W0ᵀ + b + s·xa·Bᵀ                 linear_forward     one tiled pass, B·A never formed
 * backward: g  = dy·B                                lora_down          [M, r]
 *           dx = dy·W0 + mask ⊙ (s·g·A)              linear_backward_input
 *           dA = s·gᵀ·dropout(x)                      lora_weight_grad   split over tokens, no atomics
 *           dB = s·dyᵀ·xa                             lora_weight_grad
 */
import { ShapeError } from '../gpu/errors';
import type { CommandRecorder } from './dispatch';
import type { GpuWeight } from './gpu-weight';
import { encodeLinearBackwardInput, encodeLinearForward, type DropoutSpec } from './linear';
import { encodeLoraG, encodeLoraGradA, encodeLoraGradB, encodeLoraXa } from './lora-rank';
import type { GpuTensor } from './tensor';

export interface LoraAdapterTensors {
  a: GpuTensor; // lora_A.weight [r, in]
  b: GpuTensor; // lora_B.weight [out, r]
  /** lora_alpha / r, or lora_alpha / √r with rsLoRA (peft/lora-scaling.ts). */
  scale: number;
  dropout: DropoutSpec;
}

export interface LoraForwardArgs {
  x: GpuTensor; // [M, in]
  w0: GpuWeight;
  bias?: GpuTensor | null;
  lora: LoraAdapterTensors;
  y: GpuTensor; // [M, out]
  /** Receives dropout(x)·Aᵀ [M, r]; keep it for the backward. */
  xa: GpuTensor;
  /** Add to what y holds (a residual stream) instead of overwriting it. */
  accumulate?: boolean;
}

export function encodeLoraLinearForward(rec: CommandRecorder, args: LoraForwardArgs): void {
  checkAdapter(args.w0, args.lora);
  encodeLoraXa(rec, { x: args.x, a: args.lora.a, xa: args.xa, dropout: args.lora.dropout });
  encodeLinearForward(rec, {
    x: args.x,
    w0: args.w0,
    bias: args.bias,
    lora: { xa: args.xa, b: args.lora.b, scale: args.lora.scale },
    y: args.y,
    accumulate: args.accumulate,
  });
}

export interface LoraBackwardArgs {
  dy: GpuTensor; // [M, out]
  x: GpuTensor; // [M, in], the forward's input
  xa: GpuTensor; // [M, r], from the forward
  w0: GpuWeight;
  lora: LoraAdapterTensors;
  /** Scratch for dy·B [M, r]. */
  g: GpuTensor;
  /** Input gradient [M, in]; null when the layer's input needs none (the first layer). */
  dx: GpuTensor | null;
  dA: GpuTensor; // [r, in]
  dB: GpuTensor; // [out, r]
  /** Add into dA and dB (gradient accumulation) instead of overwriting them. */
  accumulateGrads?: boolean;
  /** Add into dx (a residual stream's gradient) instead of overwriting it. */
  accumulateDx?: boolean;
}

export function encodeLoraLinearBackward(rec: CommandRecorder, args: LoraBackwardArgs): void {
  checkAdapter(args.w0, args.lora);
  const { lora } = args;
  encodeLoraG(rec, { dy: args.dy, b: lora.b, g: args.g });
  if (args.dx) {
    encodeLinearBackwardInput(rec, {
      dy: args.dy,
      w0: args.w0,
      lora: { g: args.g, a: lora.a, scale: lora.scale, dropout: lora.dropout },
      dx: args.dx,
      accumulate: args.accumulateDx,
    });
  }
  encodeLoraGradA(rec, { g: args.g, x: args.x, dA: args.dA, scale: lora.scale, dropout: lora.dropout, accumulate: args.accumulateGrads });
  encodeLoraGradB(rec, { dy: args.dy, xa: args.xa, dB: args.dB, scale: lora.scale, accumulate: args.accumulateGrads });
}

function checkAdapter(w0: GpuWeight, lora: LoraAdapterTensors): void {
  const [r, inA] = lora.a.shape;
  const [outB, rB] = lora.b.shape;
  if (lora.a.shape.length !== 2 || lora.b.shape.length !== 2 || r !== rB || inA !== w0.inFeatures || outB !== w0.outFeatures) {
    throw new ShapeError(
      `LoRA adapter of "${w0.name}": lora_A "${lora.a.name}" is [${lora.a.shape.join(', ')}] and lora_B "${lora.b.name}" is ` +
        `[${lora.b.shape.join(', ')}]; expected lora_A [r, ${w0.inFeatures}] and lora_B [${w0.outFeatures}, r] with the same r`,
    );
  }
  if (!Number.isFinite(lora.scale)) throw new ShapeError(`LoRA adapter of "${w0.name}": scaling must be finite, got ${lora.scale}`);
  if (!(lora.dropout.p >= 0 && lora.dropout.p < 1)) {
    throw new ShapeError(`LoRA adapter of "${w0.name}": lora_dropout must be in [0, 1), got ${lora.dropout.p}`);
  }
}
