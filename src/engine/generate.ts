/**
 * Text generation with a KV cache: the prompt is run once (prefill), then one token per step, each attending
 * to the cached keys and values of everything before it. Tokens stream out as they are chosen; generation
 * stops on an end-of-sequence id, at maxNewTokens, at the model's context length, or when aborted.
 *
 * The layers are the training forward's own (forward.ts); only attention differs, reading and writing the cache
 * (attention-modes.ts). The adapter is switchable per call (`adapterScale`, 0 = base model), so base and adapted
 * outputs come from one loaded copy of the model. A method's prefix keys and values fill the first cache
 * positions, and its virtual tokens go in front of the prompt, as PEFT generates.
 */
import type { GpuContext } from '../gpu/device';
import { readTensor } from '../kernels/tensor';
import { checkIndicesBelow } from '../kernels/index-tensor';
import { checkDecodeOptions, decodeAll, decodeLoop, type DecodeOptions, type StopReason } from '../model/decode-loop';
import { ActivationPool } from './activation-pool';
import { CachedAttention } from './attention-modes';
import { modelForward, modelLogits } from './forward';
import type { GpuModel } from './gpu-model';
import type { MethodHooks } from './method-hooks';
import { Pass } from './pass';

export interface GenerateOptions extends DecodeOptions {
  /** 1 = the adapter as trained, 0 = the base model. */
  adapterScale?: number;
}

export interface GenerateResult {
  tokens: number[];
  stopReason: StopReason;
}

/**
 * Runs `ids` (the next tokens of the sequence) through the model on top of the cache and returns the logits of the
 * last of them. The first step also runs the method's virtual tokens, in front of the prompt.
 */
async function step(
  gpu: GpuContext,
  model: GpuModel,
  adapter: MethodHooks | null,
  adapterScale: number,
  cache: CachedAttention,
  pool: ActivationPool,
  ids: number[],
): Promise<Float32Array> {
  const c = model.config;
  const first = cache.length === 0;
  const virtual = first && adapter && adapterScale !== 0 ? (adapter.virtualTokens?.count ?? 0) : 0;
  const n = virtual + ids.length;
  const pass = new Pass(gpu, model, adapter, n, pool, { adapterScale }, 'generation step');
  if (first) cache.start(pass);
  const pastLen = cache.length;
  const idsT = pool.indices(Uint32Array.from({ length: n }, (_, i) => (i < virtual ? 0 : ids[i - virtual])), 'input_ids');
  const posT = pool.indices(Uint32Array.from({ length: n }, (_, i) => pastLen + i), 'position_ids');
  try {
    const acts = modelForward(pass, { ids: idsT, positions: posT, sequences: 1, seqLen: n, virtualTokens: virtual }, cache, 'none');
    // Only the last row's logits choose the next token.
    const d = c.hiddenSize;
    const lastRow = pass.tensor([1, d], 'last row');
    pass.rec.encoder.copyBufferToBuffer(acts.hFinal.buffer, (n - 1) * d * 4, lastRow.buffer, 0, d * 4);
    const logits = modelLogits(pass, lastRow);
    pass.rec.submit();
    cache.advance(n);
    const last = await readTensor(gpu.device, logits);
    gpu.assertHealthy();
    return last;
  } finally {
    pool.release();
  }
}

/** Generates up to maxNewTokens after `promptIds`; yields each token as it is chosen. */
export async function* generateTokens(
  gpu: GpuContext,
  model: GpuModel,
  adapter: MethodHooks | null,
  promptIds: number[],
  opts: GenerateOptions,
): AsyncGenerator<number, StopReason> {
  const c = model.config;
  checkDecodeOptions(promptIds, opts, 'generate');
  checkIndicesBelow(promptIds, c.vocabSize, 'generate prompt', 'token id', 'vocabulary size');
  const adapterScale = opts.adapterScale ?? 1;
  const on = adapter !== null && adapterScale !== 0;
  // Positions the method takes in front of the prompt.
  const extra = on ? (adapter.attentionPrefix?.length ?? 0) + (adapter.virtualTokens?.count ?? 0) : 0;
  if (extra + promptIds.length > c.maxPositions) {
    throw new RangeError(
      `generate: the prompt has ${promptIds.length} tokens${extra > 0 ? ` (plus ${extra} positions of the adapter's prefix or virtual tokens)` : ''}, the model's context is ${c.maxPositions}`,
    );
  }
  const maxT = Math.min(c.maxPositions, extra + promptIds.length + opts.maxNewTokens);
  const cache = new CachedAttention(gpu.device, c, maxT);
  const pool = new ActivationPool(gpu.device);
  try {
    return yield* decodeLoop(
      {
        step: (ids) => step(gpu, model, adapter, adapterScale, cache, pool, ids),
        cacheLength: () => cache.length,
        maxLength: maxT,
        eosTokenIds: c.eosTokenIds,
      },
      promptIds,
      opts,
    );
  } finally {
    cache.destroy();
    pool.destroy();
  }
}

export async function generate(
  gpu: GpuContext,
  model: GpuModel,
  adapter: MethodHooks | null,
  promptIds: number[],
  opts: GenerateOptions,
): Promise<GenerateResult> {
  return decodeAll(generateTokens(gpu, model, adapter, promptIds, opts));
}
