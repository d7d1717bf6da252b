/**
 * A small trainable MLP on the GPU, as torch.nn.Sequential(Linear, act, Linear, act, …, Linear) — the heads of
 * the prompt encoders (P-tuning's mlp_head, prefix tuning's projection). Rows are the n virtual tokens, so it is
 * tiny; it runs on the engine's kernels: the linear forward and backward-to-input with the weight as an f32 view
 * (f32WeightView), the weight and bias gradients as reductions over the rows (encodeLoraWeightGrad), and the
 * pointwise activation kernels.
 */
import { encodeActivation, encodeActivationBackward, type PointwiseActivation } from '../../kernels/activations';
import { f32WeightView } from '../../kernels/gpu-weight';
import { encodeLinearBackwardInput, encodeLinearForward } from '../../kernels/linear';
import { encodeLoraWeightGrad } from '../../kernels/lora-rank';
import type { GpuTensor } from '../../kernels/tensor';
import type { PassContext, TrainableTensor } from '../../engine/method-hooks';
import { trainableTensor } from './trainable';

/** One Linear layer's initial weight [out, in] and bias [out], and its module path (e.g. "prompt_encoder.mlp_head.0"). */
export interface LinearInit {
  name: string;
  weight: Float32Array;
  bias: Float32Array;
  inFeatures: number;
  outFeatures: number;
}

interface GpuLinearLayer {
  weight: TrainableTensor; // [out, in]
  bias: TrainableTensor; // [out, 1] (the bias gradient is a reduction into [out, 1])
  inFeatures: number;
  outFeatures: number;
}

export interface MlpSaved {
  /** The input of each layer (layer 0's is the caller's x). */
  inputs: GpuTensor[];
  /** The input of each activation: the output of every layer but the last. */
  preActivations: GpuTensor[];
}

export class GpuMlp {
  private readonly layers: GpuLinearLayer[];

  constructor(
    private readonly device: GPUDevice,
    layers: readonly LinearInit[],
    /** Between the layers (not after the last). */
    private readonly activation: PointwiseActivation,
  ) {
    this.layers = layers.map((l) => ({
      weight: trainableTensor(device, l.weight, [l.outFeatures, l.inFeatures], `${l.name}.weight`),
      bias: trainableTensor(device, l.bias, [l.outFeatures, 1], `${l.name}.bias`),
      inFeatures: l.inFeatures,
      outFeatures: l.outFeatures,
    }));
  }

  get outFeatures(): number {
    return this.layers[this.layers.length - 1].outFeatures;
  }

  parameters(): TrainableTensor[] {
    // The optimizer sees the bias as [out], like PEFT's.
    return this.layers.flatMap((l) => [l.weight, { ...l.bias, value: { ...l.bias.value, shape: [l.outFeatures] }, grad: { ...l.bias.grad, shape: [l.outFeatures] } }]);
  }

  /** y [rows, out] = the MLP of x [rows, in]; `saved` is what the backward needs. */
  forward(ctx: PassContext, x: GpuTensor, name: string): { y: GpuTensor; saved: MlpSaved } {
    const rows = x.shape[0];
    const inputs: GpuTensor[] = [];
    const preActivations: GpuTensor[] = [];
    let h = x;
    this.layers.forEach((l, i) => {
      inputs.push(h);
      const y = ctx.tensor([rows, l.outFeatures], `${name} layer ${i}`);
      encodeLinearForward(ctx.rec, { x: h, w0: f32WeightView(this.device, l.weight.value), bias: { ...l.bias.value, shape: [l.outFeatures] }, y });
      if (i < this.layers.length - 1) {
        const a = ctx.tensor([rows, l.outFeatures], `${name} layer ${i} ${this.activation}`);
        encodeActivation(ctx.rec, { fn: this.activation, x: y, y: a });
        preActivations.push(y);
        h = a;
      } else {
        h = y;
      }
    });
    return { y: h, saved: { inputs, preActivations } };
  }

  /**
   * From dy [rows, out]: the weights' and biases' gradients (added to with `accumulate`), and dx [rows, in] when
   * the caller needs it (added to with `accumulateDx`).
   */
  backward(ctx: PassContext, saved: MlpSaved, dy: GpuTensor, opts: { accumulate: boolean; dx?: GpuTensor | null; accumulateDx?: boolean; name: string }): void {
    const rows = dy.shape[0];
    let d = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i];
      const x = saved.inputs[i];
      // y = x·Wᵀ + b: dW = dyᵀ·x, db = dyᵀ·1, dx = dy·W.
      encodeLoraWeightGrad(ctx.rec, `${opts.name} layer ${i} dW`, { left: d, right: x, out: l.weight.grad, scale: 1, accumulate: opts.accumulate });
      encodeLoraWeightGrad(ctx.rec, `${opts.name} layer ${i} db`, { left: d, right: ones(ctx, rows), out: l.bias.grad, scale: 1, accumulate: opts.accumulate });
      if (i === 0) {
        if (opts.dx) encodeLinearBackwardInput(ctx.rec, { dy: d, w0: f32WeightView(this.device, l.weight.value), dx: opts.dx, accumulate: opts.accumulateDx });
        break;
      }
      // x is the previous layer's activation output a = act(y_prev): dy_prev = dx ⊙ act′(y_prev).
      const dx = ctx.tensor([rows, l.inFeatures], `${opts.name} layer ${i} dx`);
      encodeLinearBackwardInput(ctx.rec, { dy: d, w0: f32WeightView(this.device, l.weight.value), dx });
      const dPrev = ctx.tensor([rows, l.inFeatures], `${opts.name} layer ${i - 1} dy`);
      encodeActivationBackward(ctx.rec, { fn: this.activation, x: saved.preActivations[i - 1], dy: dx, dx: dPrev });
      d = dPrev;
    }
  }

  destroy(): void {
    for (const l of this.layers) for (const t of [l.weight.value, l.weight.grad, l.bias.value, l.bias.grad]) t.buffer.destroy();
  }
}

/** A column of ones [rows, 1] of the pass (the pass's own when the rows match). */
function ones(ctx: PassContext, rows: number): GpuTensor {
  if (ctx.rows === rows) return ctx.ones();
  const t = ctx.tensor([rows, 1], 'ones', { hostWritten: true });
  ctx.rec.gpu.device.queue.writeBuffer(t.buffer, 0, new Float32Array(rows).fill(1));
  return t;
}

/** PyTorch's default Linear init: weight and bias ~ U(−1/√in, 1/√in). */
export function torchLinearInit(name: string, inFeatures: number, outFeatures: number, uniform: (n: number, bound: number) => Float32Array): LinearInit {
  const bound = 1 / Math.sqrt(inFeatures);
  return { name, inFeatures, outFeatures, weight: uniform(outFeatures * inFeatures, bound), bias: uniform(outFeatures, bound) };
}
