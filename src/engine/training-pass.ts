/**
 * Whole-batch passes of the model on the GPU: logits (evaluation, parity checks), the validation loss, and one
 * training pass — forward over B sequences with causal and padding masks, cross-entropy with ignore index −100
 * (over chunks of rows, lm-head-loss.ts), and the backward to the method's parameters only, optionally with
 * gradient checkpointing. Everything one pass does is recorded into one command buffer and submitted once; its
 * activations come from an activation pool (reused across passes when the caller keeps one, see
 * PassOptions.pool), which hands tensors back as soon as the pass is done with them.
 */
import type { GpuContext } from '../gpu/device';
import { readTensor } from '../kernels/tensor';
import { ActivationPool } from './activation-pool';
import { SequenceAttention } from './attention-modes';
import { modelBackward } from './backward';
import { layoutBatch, uploadBatch, type GpuBatch, type TokenBatch, type TrainBatch } from './batch';
import { modelForward, modelLogits, type ForwardActs, type KeepActivations, type PassInput } from './forward';
import { encodeLmHeadLoss } from './lm-head-loss';
import type { GpuModel } from './gpu-model';
import type { MethodHooks } from './method-hooks';
import { Pass, type PassOptions } from './pass';

export type { PassOptions } from './pass';

export interface LossResult {
  loss: number;
  /** Tokens that counted toward the loss. */
  tokens: number;
  /** The most bytes of activations this pass held at once (memory-plan.ts predicts it). */
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
  keep: KeepActivations,
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
    const acts = modelForward(pass, input, attention, keep);
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
  return withForward(gpu, model, adapter, batch, { ...opts, dropoutSeed: null }, 'forward', 'none', async ({ pass, acts }) => {
    const logits = modelLogits(pass, acts.hFinal);
    pass.rec.submit();
    const out = await readTensor(gpu.device, logits);
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
  const keep = opts.gradientCheckpointing ? 'checkpoints' : 'all';
  return withForward(gpu, model, adapter, batch, opts, 'training pass', keep, async ({ pass, batch: b, input, attention, acts }) => {
    const rowLoss = pass.tensor([pass.rows], 'row loss');
    const dhf = pass.tensor(acts.hFinal.shape, 'd final norm');
    encodeLmHeadLoss(pass, { h: acts.hFinal, targets: b.targets!, invCount: 1 / b.layout.counted, rowLoss, dh: dhf, chunkRows: opts.lossChunkRows });
    pass.free(acts.hFinal);
    modelBackward(pass, acts, dhf, input, attention);
    pass.rec.submit();
    const sum = await sumRows(gpu, readTensor(gpu.device, rowLoss));
    return { loss: sum / b.layout.counted, tokens: b.layout.counted, activationBytes: pass.pool.peakBytes };
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
  return withForward(gpu, model, adapter, batch, { ...opts, dropoutSeed: null }, 'evaluation', 'none', async ({ pass, batch: b, acts }) => {
    const rowLoss = pass.tensor([pass.rows], 'row loss');
    encodeLmHeadLoss(pass, { h: acts.hFinal, targets: b.targets!, invCount: 1 / b.layout.counted, rowLoss, dh: null, chunkRows: opts.lossChunkRows });
    pass.rec.submit();
    const sum = await sumRows(gpu, readTensor(gpu.device, rowLoss));
    return { loss: sum / b.layout.counted, tokens: b.layout.counted };
  });
}
