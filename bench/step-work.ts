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
 * - attention: scores and weighted values, forward (2 products) and backward (5: the scores again, since the
 *   forward saves no probabilities, then dP, dq, dk and dv), causal so half of T², per query head:
 *   2·B·heads·T²/2·hd per product.
 * Norms, activations, softmax and the optimizer are counted as free, as FLOP counts usually do.
 */
export function loraStepFlops(model: GpuModel, batch: number, seq: number, rank: number): number {
  const rows = batch * seq;
  let flops = 0;
  for (const w of matmulWeights(model)) flops += 2 * 2 * rows * w.inFeatures * w.outFeatures;
  for (const l of model.layers) for (const lin of Object.values(l.linears)) flops += 3 * 2 * 2 * rows * rank * (lin.weight.inFeatures + lin.weight.outFeatures);
  const c = model.config;
  flops += model.layers.length * 7 * 2 * batch * c.numHeads * ((seq * seq) / 2) * c.headDim;
  return flops;
}

/**
 * GFLOP/s of the device's forward matmul y = x·W0ᵀ (the kernel profile's own, in the model's weight format) over
 * every linear layer of the model and its lm_head at `rows` rows, recorded into one command buffer as a step
 * records them: the rate the step's matmuls could reach if nothing else cost time.
 */
export async function matmulGflops(gpu: GpuContext, model: GpuModel, rows: number, reps = 3): Promise<number> {
  const weights = matmulWeights(model);
  const widths = new Set(weights.flatMap((w) => [w.inFeatures, w.outFeatures]));
  const tensors = new Map([...widths].map((n) => [n, zerosTensor(gpu.device, [rows, n], `matmul ${n}`)]));
  try {
    // x and y of different widths are different buffers; a square layer reads and writes the same one, which
    // changes nothing for the timing, so it gets a second buffer of its own.
    const square = new Map([...widths].map((n) => [n, zerosTensor(gpu.device, [rows, n], `matmul ${n} (out)`)]));
    try {
      const ms = await timeGpu(gpu, () => {
        const rec = new CommandRecorder(gpu, 'matmul rate');
        for (const w of weights) {
          const y = w.inFeatures === w.outFeatures ? square.get(w.outFeatures)! : tensors.get(w.outFeatures)!;
          encodeLinearForward(rec, { x: tensors.get(w.inFeatures)!, w0: w, y });
        }
        rec.submit();
      }, reps);
      const flops = weights.reduce((sum, w) => sum + 2 * rows * w.inFeatures * w.outFeatures, 0);
      return flops / ms / 1e6;
    } finally {
      for (const t of square.values()) t.buffer.destroy();
    }
  } finally {
    for (const t of tensors.values()) t.buffer.destroy();
  }
}
