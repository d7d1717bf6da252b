/**
 * Our side of the peer benchmark: the fused LoRA kernels of src/kernels, driven the way the studio drives them.
 *
 * Train step (one command buffer, then one 4-byte read-back of the loss):
 *   forward     xa = x·Aᵀ; y = x·W0ᵀ + s·xa·Bᵀ              encodeLoraLinearForward (W0 in its packed format)
 *   loss grad   dy = (y − t)/N = (−t/N) + (1/N)·y          encodeElementwise, −t/N formed once on the host
 *   loss        Σ dy² (loss = ½·N·Σ dy² = ½·mean((y − t)²)) encodeSquaredNorms
 *   backward    dA, dB (no dx: x needs no gradient)         encodeLoraLinearBackward
 *   optimizer   AdamW on A and B (weight decay 0)          encodeAdamW ×2
 * Synchronisation: `trainStep()` submits the step, copies the loss partial to a staging buffer and awaits
 * its mapAsync, which resolves only after every command submitted before it, so the step is complete.
 *
 * Forward only: `forward()` submits xa and y and awaits `queue.onSubmittedWorkDone()`; x, W0, A, B and y stay
 * on the GPU (no upload, no read-back), as for the ORT peer.
 */
import { readBack } from '../../src/gpu/buffers';
import type { GpuContext } from '../../src/gpu/device';
import { CommandRecorder } from '../../src/kernels/dispatch';
import { destroyWeight, uploadWeight, type GpuWeight } from '../../src/kernels/gpu-weight';
import { NO_DROPOUT } from '../../src/kernels/linear';
import { encodeLoraLinearBackward, encodeLoraLinearForward, type LoraAdapterTensors } from '../../src/kernels/lora-linear';
import { encodeAdamW, encodeSquaredNorms } from '../../src/kernels/optimizer';
import { encodeElementwise } from '../../src/kernels/plain-ops';
import { readTensor, tensorFrom, zerosTensor, type GpuTensor } from '../../src/kernels/tensor';
import type { PackedWeight } from '../../src/kernels/weight-format';

/** Hyper-parameters both sides use: Adam(W) with weight decay 0, so that tf.train.adam computes the same step. */
export const ADAM = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 } as const;

/** One benchmark problem: the same host arrays go to every side. */
export interface LoraProblem {
  T: number;
  d: number;
  r: number;
  /** LoRA scaling s = alpha / r with alpha = 2r. */
  scale: number;
  /** x [T, d]. */
  x: Float32Array;
  /** Target t [T, d] of the loss ½·mean((y − t)²). */
  target: Float32Array;
  /** W0 packed in the row's format, for our kernels. */
  w0Packed: PackedWeight;
  /** W0 [d, d] as f32, dequantized from `w0Packed` (what the GPU decoder computes), for the peers. */
  w0: Float32Array;
  /** lora_A.weight [r, d]. */
  a: Float32Array;
  /** lora_B.weight [d, r], non-zero. */
  b: Float32Array;
}

export interface TrainStepState {
  loss: number;
  dA: Float32Array;
  dB: Float32Array;
  /** A and B after the optimizer step. */
  a: Float32Array;
  b: Float32Array;
}

export class OursLora {
  private readonly w0: GpuWeight;
  private readonly x: GpuTensor;
  private readonly negTargetOverN: GpuTensor;
  /** The trained adapter (updated by every train step). */
  private readonly train: LoraAdapterTensors;
  /** A separate, fixed copy of the initial adapter for the forward-only rows. */
  private readonly fixed: LoraAdapterTensors;
  private readonly y: GpuTensor;
  private readonly xa: GpuTensor;
  private readonly yFwd: GpuTensor;
  private readonly xaFwd: GpuTensor;
  private readonly dy: GpuTensor;
  private readonly g: GpuTensor;
  private readonly dA: GpuTensor;
  private readonly dB: GpuTensor;
  private readonly moments: GpuTensor[];
  private readonly lossPartial: GpuTensor;
  private readonly tensors: GpuTensor[];
  private readonly count: number;
  private step = 0;

  constructor(
    private readonly gpu: GpuContext,
    p: LoraProblem,
  ) {
    const dev = gpu.device;
    const { T, d, r } = p;
    this.count = T * d;
    this.w0 = uploadWeight(dev, p.w0Packed, `W0 ${p.w0Packed.format}`);
    this.x = tensorFrom(dev, p.x, [T, d], 'x');
    const negT = new Float32Array(p.target.length);
    for (let i = 0; i < negT.length; i++) negT[i] = -p.target[i] / this.count;
    this.negTargetOverN = tensorFrom(dev, negT, [T, d], '−t/N');
    this.train = { a: tensorFrom(dev, p.a, [r, d], 'A'), b: tensorFrom(dev, p.b, [d, r], 'B'), scale: p.scale, dropout: NO_DROPOUT };
    this.fixed = { a: tensorFrom(dev, p.a, [r, d], 'A (forward)'), b: tensorFrom(dev, p.b, [d, r], 'B (forward)'), scale: p.scale, dropout: NO_DROPOUT };
    this.y = zerosTensor(dev, [T, d], 'y');
    this.xa = zerosTensor(dev, [T, r], 'xa');
    this.yFwd = zerosTensor(dev, [T, d], 'y (forward)');
    this.xaFwd = zerosTensor(dev, [T, r], 'xa (forward)');
    this.dy = zerosTensor(dev, [T, d], 'dy');
    this.g = zerosTensor(dev, [T, r], 'g');
    this.dA = zerosTensor(dev, [r, d], 'dA');
    this.dB = zerosTensor(dev, [d, r], 'dB');
    this.moments = [
      zerosTensor(dev, [r, d], 'm(A)'),
      zerosTensor(dev, [r, d], 'v(A)'),
      zerosTensor(dev, [d, r], 'm(B)'),
      zerosTensor(dev, [d, r], 'v(B)'),
    ];
    this.lossPartial = zerosTensor(dev, [1], 'Σ dy²');
    this.tensors = [
      this.x, this.negTargetOverN, this.train.a, this.train.b, this.fixed.a, this.fixed.b, this.y, this.xa, this.yFwd,
      this.xaFwd, this.dy, this.g, this.dA, this.dB, ...this.moments, this.lossPartial,
    ];
  }

  /** Records one train step into `rec`. */
  private encodeTrainStep(rec: CommandRecorder): void {
    const { x, w0, train: lora } = this;
    this.step += 1;
    encodeLoraLinearForward(rec, { x, w0, lora, y: this.y, xa: this.xa });
    encodeElementwise(rec, { a: this.negTargetOverN, b: this.y, alpha: 1 / this.count, out: this.dy });
    encodeSquaredNorms(rec, { tensors: [this.dy], out: this.lossPartial });
    encodeLoraLinearBackward(rec, { dy: this.dy, x, xa: this.xa, w0, lora, g: this.g, dx: null, dA: this.dA, dB: this.dB });
    const [mA, vA, mB, vB] = this.moments;
    encodeAdamW(rec, { ...ADAM, step: this.step, param: lora.a, grad: this.dA, m: mA, v: vA });
    encodeAdamW(rec, { ...ADAM, step: this.step, param: lora.b, grad: this.dB, m: mB, v: vB });
  }

  /** One train step, submitted and finished; returns the loss (before the update), read back from the GPU. */
  async trainStep(): Promise<number> {
    const rec = new CommandRecorder(this.gpu, 'peer bench: LoRA train step');
    this.encodeTrainStep(rec);
    rec.submit();
    const sum = new Float32Array(await readBack(this.gpu.device, this.lossPartial.buffer, 4))[0];
    return 0.5 * this.count * sum;
  }

  /** The first train step with everything the pre-check compares: loss, dA, dB, and A, B after the update. */
  async checkedTrainStep(): Promise<TrainStepState> {
    const loss = await this.trainStep();
    const dev = this.gpu.device;
    const [dA, dB, a, b] = await Promise.all([
      readTensor(dev, this.dA), readTensor(dev, this.dB), readTensor(dev, this.train.a), readTensor(dev, this.train.b),
    ]);
    this.gpu.assertHealthy();
    return { loss, dA, dB, a, b };
  }

  /** The forward with the initial adapter, submitted and finished (GPU-resident input and output). */
  async forward(): Promise<void> {
    const rec = new CommandRecorder(this.gpu, 'peer bench: LoRA forward');
    encodeLoraLinearForward(rec, { x: this.x, w0: this.w0, lora: this.fixed, y: this.yFwd, xa: this.xaFwd });
    rec.submit();
    await this.gpu.device.queue.onSubmittedWorkDone();
  }

  /** The forward's output y [T, d]. */
  async readForward(): Promise<Float32Array> {
    const y = await readTensor(this.gpu.device, this.yFwd);
    this.gpu.assertHealthy();
    return y;
  }

  destroy(): void {
    destroyWeight(this.w0);
    for (const t of this.tensors) t.buffer.destroy();
  }
}
