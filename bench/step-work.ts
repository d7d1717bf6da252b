/**
 * The arithmetic of one LoRA training step, and the rate the device's own matmul reaches on the model's linear
 * shapes: together they give the step's effective GFLOP/s and how it compares with the matmul's (bench:train).
 */
import type { GpuContext } from '../src/gpu/device';
import type { GpuModel } from '../src/engine/gpu-model';
import { CommandRecorder } from '../src/kernels/dispatch';
import { encodeLinearForward } from '../src/kernels/linear';
import { zerosTensor } from '../src/kernels/tensor';
import type { GpuWeight } from '../src/kernels/gpu-weight';
import { timeGpu } from './timing';

/** The model's matmul weights: every block's linear layers and the lm_head. */
function matmulWeights(model: GpuModel): GpuWeight[] {
  return [...model.layers.flatMap((l) => Object.values(l.linears).map((lin) => lin.weight)), model.lmHead];
}

/**
 * Floating-point operations of one training step over `rows` = B·T tokens with LoRA rank r on every block linear:
 * - the frozen matmuls twice (forward y = x·W0ᵀ, backward dx = dy·W0; W0 gets no gradient), 2·rows·in·out each;
 * - LoRA: x·Aᵀ and (x·Aᵀ)·Bᵀ forward; in the backward the gradients of A and B and the two terms of dx: 6 rank-r
 *   products, 2·rows·r·(in + out) for each pair;
 * - attention: scores and weighted values, forward (2 products) and backward (4), causal so half of T², per
 *   query head: 2·B·heads·T²/2·hd per product.
 * Norms, activations, softmax and the optimizer are counted as free, as FLOP counts usually do.
 */
export function loraStepFlops(model: GpuModel, batch: number, seq: number, rank: number): number {
  const rows = batch * seq;
  let flops = 0;
  for (const w of matmulWeights(model)) flops += 2 * 2 * rows * w.inFeatures * w.outFeatures;
  for (const l of model.layers) for (const lin of Object.values(l.linears)) flops += 3 * 2 * 2 * rows * rank * (lin.weight.inFeatures + lin.weight.outFeatures);
  const c = model.config;
  flops += model.layers.length * 6 * 2 * batch * c.numHeads * ((seq * seq) / 2) * c.headDim;
  return flops;
}

/**
 * GFLOP/s of the device's forward matmul y = x·W0ᵀ (the kernel profile's own, in the model's weight format) over
 * the model's linear shapes at `rows` rows: the rate the step's matmuls could reach if nothing else cost time.
 */
export async function matmulGflops(gpu: GpuContext, model: GpuModel, rows: number, reps = 3): Promise<number> {
  const shapes = new Map<string, GpuWeight>();
  for (const w of matmulWeights(model)) shapes.set(`${w.inFeatures}x${w.outFeatures}`, w);
  const uses = new Map<string, number>();
  for (const w of matmulWeights(model)) uses.set(`${w.inFeatures}x${w.outFeatures}`, (uses.get(`${w.inFeatures}x${w.outFeatures}`) ?? 0) + 1);
  let ms = 0;
  let flops = 0;
  for (const [key, w] of shapes) {
    const x = zerosTensor(gpu.device, [rows, w.inFeatures], 'matmul x');
    const y = zerosTensor(gpu.device, [rows, w.outFeatures], 'matmul y');
    try {
      const t = await timeGpu(gpu, () => {
        const rec = new CommandRecorder(gpu, 'matmul rate');
        encodeLinearForward(rec, { x, w0: w, y });
        rec.submit();
      }, reps);
      const n = uses.get(key)!;
      ms += n * t;
      flops += n * 2 * rows * w.inFeatures * w.outFeatures;
    } finally {
      x.buffer.destroy();
      y.buffer.destroy();
    }
  }
  return flops / ms / 1e6;
}
