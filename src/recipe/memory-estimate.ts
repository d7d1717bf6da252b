/**
 * The GPU memory the recipe's run needs on one GPU, estimated before it runs: the base weights in their format,
 * the adapter with its gradient and AdamW moments, and the activations of one micro-batch of the longest examples.
 *
 * The weights and the adapter are the studio's own counts (plannedWeightMemory, ADAPTER_BYTES_PER_PARAM); the
 * bitsandbytes formats take within a few percent of the studio's quantized ones. The activations are those the
 * studio's engine keeps in float32 for a micro-batch of `batch` examples of max_length tokens
 * (trainingActivationMemory): PyTorch's autograd keeps tensors of the same sizes, but its attention kernel (SDPA)
 * may not keep the T² probabilities, and the CUDA context and allocator add about 0.5–1 GiB. It is an estimate of
 * the order of magnitude, for choosing a GPU, not a bound.
 */
import { plannedWeightMemory } from '../engine/weight-memory';
import { trainingActivationBytes } from '../engine/memory';
import type { WeightFormat } from '../kernels/weight-format';
import type { ModelConfig } from '../model/config';
import { ADAPTER_BYTES_PER_PARAM } from '../trainer/gpu-memory';

export interface MemoryEstimate {
  weights: number;
  adapter: number;
  activations: number;
  total: number;
}

export function estimateGpuMemory(args: {
  model: ModelConfig;
  weightFormat: WeightFormat;
  trainableParams: number;
  loraRanks: readonly number[];
  batch: number;
  maxLength: number;
}): MemoryEstimate {
  const weights = plannedWeightMemory(args.model, args.weightFormat).total;
  const adapter = ADAPTER_BYTES_PER_PARAM * args.trainableParams;
  const activations = trainingActivationBytes(args.model, args.batch, args.maxLength, args.loraRanks);
  return { weights, adapter, activations, total: weights + adapter + activations };
}

/** Bytes as GiB with two decimals ("1.25 GiB"), or MiB below one GiB. */
export function formatBytes(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${gib.toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
