/**
 * Trainable tensors of the prompt-learning methods on the GPU: a value and its gradient, and how a hook's gradient
 * reaches the gradient buffer (overwritten by a step's first micro-batch, added by the ones after it).
 */
import { encodeCopyColumns } from '../../kernels/copy-columns';
import type { GpuContext } from '../../gpu/device';
import { readTensor, tensorFrom, zerosTensor, type GpuTensor } from '../../kernels/tensor';
import type { GpuAdapter, PassContext, TrainableTensor } from '../../engine/method-hooks';

/** A trainable [rows, cols] tensor starting from `data`, with a zero gradient. */
export function trainableTensor(device: GPUDevice, data: Float32Array, shape: readonly [number, number], name: string): TrainableTensor {
  return { name, value: tensorFrom(device, data, shape, name), grad: zerosTensor(device, shape, `${name}.grad`) };
}

/**
 * grad[:, offset : offset + width] (+)= g [rows, width]. A parameter's gradient is overwritten in a step's first
 * micro-batch and added to after it (`accumulate` defaults to ctx.accumulateGrads); a pass's own buffer (an
 * encoder output's gradient) is always overwritten (`accumulate` false).
 */
export function storeGradient(ctx: PassContext, g: GpuTensor, grad: GpuTensor, offset = 0, accumulate = ctx.accumulateGrads): void {
  encodeCopyColumns(ctx.rec, { src: g, srcOffset: 0, dst: grad, dstOffset: offset, width: g.shape[1], accumulate });
}

/** Columns [offset, offset + width) of t [rows, cols], as a tensor of the pass. */
export function columnsOf(ctx: PassContext, t: GpuTensor, offset: number, width: number, name: string): GpuTensor {
  const out = ctx.tensor([t.shape[0], width], name);
  encodeCopyColumns(ctx.rec, { src: t, srcOffset: offset, dst: out, dstOffset: 0, width });
  return out;
}

/** A method whose one trainable tensor is also what PEFT saves (prompt tuning's embeddings, an unprojected prefix). */
export abstract class OneTensorMethod implements GpuAdapter {
  protected constructor(
    protected readonly gpu: GpuContext,
    protected readonly weight: TrainableTensor,
  ) {}

  parameters(): TrainableTensor[] {
    return [this.weight];
  }

  /** The tensor's values: what PEFT saves as prompt_embeddings. */
  async promptEmbeddings(): Promise<Float32Array> {
    return readTensor(this.gpu.device, this.weight.value);
  }

  destroy(): void {
    this.weight.value.buffer.destroy();
    this.weight.grad.buffer.destroy();
  }
}
