/**
 * Whole-batch passes of the model on the GPU: logits (evaluation, parity checks), the validation loss, and one
 * training pass — forward over B sequences with causal and padding masks, cross-entropy with ignore index −100,
 * and the backward to the method's parameters only. Everything one pass does is recorded into one command buffer
 * and submitted once; its activations come from an activation pool (reused across passes when the caller keeps
 * one, see PassOptions.pool).
 */
import type { GpuContext } from '../gpu/device';
import { encodeCrossEntropy } from '../kernels/cross-entropy';
import { readTensor } from '../kernels/tensor';
import { ActivationPool } from './activation-pool';
import { SequenceAttention } from './attention-modes';
import { modelBackward } from './backward';
import { layoutBatch, uploadBatch, type GpuBatch, type TokenBatch, type TrainBatch } from './batch';
import { modelForward, type ForwardActs, type PassInput } from './forward';
import type { GpuModel } from './gpu-model';
import type { MethodHooks } from './method-hooks';
import { Pass, type PassOptions } from './pass';

export type { PassOptions } from './pass';

export interface LossResult {
  loss: number;
  /** Tokens that counted toward the loss. */
  tokens: number;
  /** Bytes of GPU memory this pass used for activations and scratch. */
  activationBytes: number;
}

interface BatchPass {
  pass: Pass;
  batch: GpuBatch;
  input: PassInput;
  attention: SequenceAttention;
  acts: ForwardActs;
}

/**
 * Lays out and uploads the batch, records the forward, and hands it to `use`; then releases what the pass took
 * (its pool, unless the caller's) whatever happens.
 */
async function withForward<R>(
  gpu: GpuContext,
  model: GpuModel,
  adapter: MethodHooks | null,
  batch: TokenBatch & { labels?: number[][] },
  opts: PassOptions,
  label: string,
  use: (b: BatchPass) => Promise<R>,
): Promise<R> {
  const on = adapter !== null && (opts.adapterScale ?? 1) !== 0;
  const extras = {
    virtualTokens: on ? (adapter.virtualTokens?.count ?? 0) : 0,
    prefixLength: on ? (adapter.attentionPrefix?.length ?? 0) : 0,
  };
  const layout = layoutBatch(model.config, batch, extras);
  const pool = opts.pool ?? new ActivationPool(gpu.device);
  try {
    const gpuBatch = uploadBatch(pool, layout);
    const pass = new Pass(gpu, model, adapter, layout.M, pool, opts, label);
    const input: PassInput = { ids: gpuBatch.ids, positions: gpuBatch.positions, sequences: layout.B, seqLen: layout.S, virtualTokens: layout.virtualTokens };
    const attention = new SequenceAttention(layout.B, layout.S, gpuBatch.keyMask);
    const acts = modelForward(pass, input, attention);
    return await use({ pass, batch: gpuBatch, input, attention, acts });
  } finally {
    if (opts.pool) pool.release();
    else pool.destroy();
  }
}

/** Logits [B·S, V] of a batch (S = T plus the method's virtual tokens), for evaluation and parity checks. */
export async function forwardLogits(
  gpu: GpuContext,
  model: GpuModel,
  adapter: MethodHooks | null,
  batch: TokenBatch,
  opts: PassOptions = {},
): Promise<Float32Array> {
  return withForward(gpu, model, adapter, batch, { ...opts, dropoutSeed: null }, 'forward', async ({ pass, acts }) => {
    pass.rec.submit();
    const out = await readTensor(gpu.device, acts.logits);
    gpu.assertHealthy();
    return out;
  });
}

async function sumRows(gpu: GpuContext, rows: Promise<Float32Array>): Promise<number> {
  let sum = 0;
  for (const v of await rows) sum += v;
  gpu.assertHealthy();
  return sum;
}

/**
 * Forward, loss and backward for one batch. The method's gradients are left in (or, with accumulateGrads, added
 * to) its gradient buffers; nothing else is trained.
 */
export async function lossAndGrads(
  gpu: GpuContext,
  model: GpuModel,
  adapter: MethodHooks,
  batch: TrainBatch,
  opts: PassOptions = {},
): Promise<LossResult> {
  return withForward(gpu, model, adapter, batch, opts, 'training pass', async ({ pass, batch: b, input, attention, acts }) => {
    const rowLoss = pass.tensor([pass.rows], 'row loss');
    // The logits' gradient overwrites the logits, which nothing needs afterwards.
    encodeCrossEntropy(pass.rec, { logits: acts.logits, targets: b.targets!, invCount: 1 / b.layout.counted, rowLoss, dLogits: acts.logits });
    modelBackward(pass, acts, acts.logits, input, attention);
    pass.rec.submit();
    const sum = await sumRows(gpu, readTensor(gpu.device, rowLoss));
    return { loss: sum / b.layout.counted, tokens: b.layout.counted, activationBytes: pass.pool.bytesInUse };
  });
}

/** Mean loss of a batch without a backward pass (validation). */
export async function evalLoss(
  gpu: GpuContext,
  model: GpuModel,
  adapter: MethodHooks | null,
  batch: TrainBatch,
  opts: PassOptions = {},
): Promise<{ loss: number; tokens: number }> {
  return withForward(gpu, model, adapter, batch, { ...opts, dropoutSeed: null }, 'evaluation', async ({ pass, batch: b, acts }) => {
    const rowLoss = pass.tensor([pass.rows], 'row loss');
    encodeCrossEntropy(pass.rec, { logits: acts.logits, targets: b.targets!, invCount: 1 / b.layout.counted, rowLoss, dLogits: acts.logits });
    pass.rec.submit();
    const sum = await sumRows(gpu, readTensor(gpu.device, rowLoss));
    return { loss: sum / b.layout.counted, tokens: b.layout.counted };
  });
}
