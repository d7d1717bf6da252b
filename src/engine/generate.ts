/**
 * Text generation with a KV cache: the prompt is run once (prefill), then one token per step, each attending
 * to the cached keys and values of everything before it. Tokens stream out as they are chosen; generation
 * stops on an end-of-sequence id, at maxNewTokens, at the model's context length, or when aborted.
 *
 * The LoRA branch is switchable per call (`loraScale`, 0 = base model), so base and adapted outputs come
 * from one loaded copy of the model.
 */
import type { GpuContext } from '../gpu/device';
import { encodeAttentionDecode, encodeKvCacheAppend } from '../kernels/attention';
import { encodeCopyColumns } from '../kernels/copy-columns';
import { CommandRecorder } from '../kernels/dispatch';
import { encodeEmbedding } from '../kernels/embedding';
import { indexTensorFrom, checkIndicesBelow } from '../kernels/index-tensor';
import { encodeLinearForward } from '../kernels/linear';
import { encodeLoraLinearForward } from '../kernels/lora-linear';
import { encodeGelu, encodeSwiglu } from '../kernels/activations';
import { encodeLayerNorm, encodeRmsNorm } from '../kernels/norms';
import { encodeRope } from '../kernels/rope';
import { readBack } from '../gpu/buffers';
import { sampleNextToken, type SamplingOptions } from '../model/sampling';
import { mulberry32 } from '../util/random';
import { TensorArena } from './arena';
import type { GpuLinear, GpuModel, GpuNorm } from './gpu-model';
import { adapterTensors, type GpuLoraSet } from './lora-adapters';
import type { GpuTensor } from '../kernels/tensor';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Seed of the sampler; the same seed, prompt and options give the same tokens. */
  seed?: number;
  /** 1 = the adapter as trained, 0 = the base model. */
  loraScale?: number;
  /** Stop ids; the model's eos ids when left out. */
  eosTokenIds?: number[];
  /** Called with each token as it is chosen. */
  onToken?: (id: number) => void;
  signal?: AbortSignal;
}

export interface GenerateResult {
  tokens: number[];
  stopReason: 'eos' | 'length' | 'context' | 'aborted';
}

/** Key and value caches of one sequence: per layer [1, maxT, kvHeads·headDim]. */
class KvCache {
  readonly k: GpuTensor[] = [];
  readonly v: GpuTensor[] = [];
  length = 0;

  constructor(arena: TensorArena, model: GpuModel, readonly maxT: number) {
    const kvDim = model.config.numKvHeads * model.config.headDim;
    for (let i = 0; i < model.config.numLayers; i++) {
      this.k.push(arena.tensor([1, maxT, kvDim], `layer ${i} key cache`));
      this.v.push(arena.tensor([1, maxT, kvDim], `layer ${i} value cache`));
    }
  }
}

/**
 * Runs `ids` (the next tokens of the sequence) through the model on top of the cache and returns the logits
 * of the last of them.
 */
async function step(gpu: GpuContext, model: GpuModel, lora: GpuLoraSet | null, loraScale: number, cache: KvCache, ids: number[]): Promise<Float32Array> {
  const c = model.config;
  const n = ids.length;
  const d = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const pastLen = cache.length;
  const arena = new TensorArena(gpu.device);
  const rec = new CommandRecorder(gpu, 'generation step');
  const idsT = indexTensorFrom(gpu.device, Uint32Array.from(ids), 'input_ids');
  const posT = indexTensorFrom(gpu.device, Uint32Array.from({ length: n }, (_, i) => pastLen + i), 'position_ids');
  try {
    const t = (shape: number[], name: string) => arena.tensor(shape, name);
    const linear = (lin: GpuLinear, x: GpuTensor, y: GpuTensor, accumulate = false) => {
      const mod = loraScale !== 0 ? lora?.get(lin.spec.path) : undefined;
      if (mod) {
        const xa = t([n, mod.r], `${lin.spec.path} xa`);
        encodeLoraLinearForward(rec, { x, w0: lin.weight, bias: mod.bias ?? lin.bias, lora: adapterTensors(mod, loraScale, null), y, xa, accumulate });
      } else {
        encodeLinearForward(rec, { x, w0: lin.weight, bias: lin.bias, y, accumulate });
      }
    };
    const norm = (nrm: GpuNorm, x: GpuTensor, y: GpuTensor) => {
      if (c.architecture === 'gpt2') encodeLayerNorm(rec, { x, weight: nrm.weight, bias: nrm.bias!, eps: c.normEps, y, stats: t([n, 2], 'norm stats') });
      else encodeRmsNorm(rec, { x, weight: nrm.weight, eps: c.normEps, y, rstd: t([n], 'norm rstd') });
    };
    const lin = (i: number, key: string) => model.layers[i].linears.get(key)!;

    const h = t([n, d], 'hidden');
    encodeEmbedding(rec, {
      table: model.tokenEmbedding,
      ids: idsT,
      ...(model.positionEmbedding ? { positionTable: model.positionEmbedding, positions: posT } : {}),
      out: h,
    });
    const a = t([n, d], 'normed');
    const q = t([n, qDim], 'q');
    const k = t([n, kvDim], 'k');
    const v = t([n, kvDim], 'v');
    const o = t([n, qDim], 'attention out');
    const f = t([n, c.intermediateSize], 'mlp in');
    const act = t([n, c.intermediateSize], 'mlp act');
    const up = c.architecture === 'llama' ? t([n, c.intermediateSize], 'mlp up') : null;
    const qkv = c.architecture === 'gpt2' ? t([n, 3 * d], 'qkv') : null;
    for (const layer of model.layers) {
      const i = layer.index;
      norm(layer.norm1, h, a);
      if (qkv) {
        linear(lin(i, 'attn.c_attn'), a, qkv);
        encodeCopyColumns(rec, { src: qkv, srcOffset: 0, dst: q, dstOffset: 0, width: d });
        encodeCopyColumns(rec, { src: qkv, srcOffset: d, dst: k, dstOffset: 0, width: d });
        encodeCopyColumns(rec, { src: qkv, srcOffset: 2 * d, dst: v, dstOffset: 0, width: d });
      } else {
        linear(lin(i, 'self_attn.q_proj'), a, q);
        linear(lin(i, 'self_attn.k_proj'), a, k);
        linear(lin(i, 'self_attn.v_proj'), a, v);
        encodeRope(rec, { x: q, heads: c.numHeads, headDim: c.headDim, positions: posT, table: model.ropeTable! });
        encodeRope(rec, { x: k, heads: c.numKvHeads, headDim: c.headDim, positions: posT, table: model.ropeTable! });
      }
      const geometry = { batch: 1, newTokens: n, pastLen, maxT: cache.maxT };
      encodeKvCacheAppend(rec, { k, v, kCache: cache.k[i], vCache: cache.v[i], ...geometry });
      encodeAttentionDecode(rec, {
        q, kCache: cache.k[i], vCache: cache.v[i], ...geometry,
        heads: c.numHeads, kvHeads: c.numKvHeads, headDim: c.headDim, scale: 1 / Math.sqrt(c.headDim), out: o,
      });
      linear(lin(i, c.architecture === 'gpt2' ? 'attn.c_proj' : 'self_attn.o_proj'), o, h, true);
      norm(layer.norm2, h, a);
      if (up) {
        linear(lin(i, 'mlp.gate_proj'), a, f);
        linear(lin(i, 'mlp.up_proj'), a, up);
        encodeSwiglu(rec, { gate: f, up, h: act });
        linear(lin(i, 'mlp.down_proj'), act, h, true);
      } else {
        linear(lin(i, 'mlp.c_fc'), a, f);
        encodeGelu(rec, { x: f, y: act });
        linear(lin(i, 'mlp.c_proj'), act, h, true);
      }
    }
    norm(model.finalNorm, h, a);
    const logits = t([n, c.vocabSize], 'logits');
    encodeLinearForward(rec, { x: a, w0: model.lmHead, y: logits });
    rec.submit();
    cache.length = pastLen + n;
    const last = await readBack(gpu.device, logits.buffer, n * c.vocabSize * 4);
    gpu.assertHealthy();
    return new Float32Array(last, (n - 1) * c.vocabSize * 4, c.vocabSize);
  } finally {
    arena.destroy();
    idsT.buffer.destroy();
    posT.buffer.destroy();
  }
}

/** Generates up to maxNewTokens after `promptIds`; yields each token as it is chosen. */
export async function* generateTokens(
  gpu: GpuContext,
  model: GpuModel,
  lora: GpuLoraSet | null,
  promptIds: number[],
  opts: GenerateOptions,
): AsyncGenerator<number, GenerateResult['stopReason']> {
  const c = model.config;
  if (promptIds.length === 0) throw new RangeError('generate: the prompt is empty; give at least one token (e.g. BOS)');
  checkIndicesBelow(promptIds, c.vocabSize, 'generate prompt', 'token id', 'vocabulary size');
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) throw new RangeError(`generate: maxNewTokens must be a non-negative integer, got ${opts.maxNewTokens}`);
  if (promptIds.length > c.maxPositions) throw new RangeError(`generate: the prompt has ${promptIds.length} tokens, the model's context is ${c.maxPositions}`);
  const eos = new Set(opts.eosTokenIds ?? c.eosTokenIds);
  const loraScale = opts.loraScale ?? 1;
  const rng = mulberry32(opts.seed ?? 0);
  const maxT = Math.min(c.maxPositions, promptIds.length + opts.maxNewTokens);
  const arena = new TensorArena(gpu.device);
  const sequence = [...promptIds];
  try {
    const cache = new KvCache(arena, model, maxT);
    let logits = await step(gpu, model, lora, loraScale, cache, promptIds);
    for (let produced = 0; ; produced++) {
      if (opts.signal?.aborted) return 'aborted';
      if (produced >= opts.maxNewTokens) return 'length';
      const next = sampleNextToken(logits, sequence, opts, rng);
      sequence.push(next);
      opts.onToken?.(next);
      yield next;
      if (eos.has(next)) return 'eos';
      if (sequence.length >= maxT) return produced + 1 >= opts.maxNewTokens ? 'length' : 'context';
      logits = await step(gpu, model, lora, loraScale, cache, [next]);
    }
  } finally {
    arena.destroy();
  }
}

export async function generate(
  gpu: GpuContext,
  model: GpuModel,
  lora: GpuLoraSet | null,
  promptIds: number[],
  opts: GenerateOptions,
): Promise<GenerateResult> {
  const tokens: number[] = [];
  const it = generateTokens(gpu, model, lora, promptIds, opts);
  for (;;) {
    const r = await it.next();
    if (r.done) return { tokens, stopReason: r.value };
    tokens.push(r.value);
  }
}
