/**
 * Wrappers of causal multi-head attention with grouped-query heads (reference: reference/attention.ts):
 * - `encodeAttentionForward`: out = softmax(scale·q·kᵀ, causal, key padding mask)·v, saving P  — attention_forward.wgsl
 * - `encodeAttentionBackward`: dS from P (softmax backward), then dq, dk, dv                    — attention_backward_scores.wgsl,
 *                                                                                                attention_backward.wgsl
 * - `encodeKvCacheAppend`: copies new k/v rows into [B, maxT, KV·hd] caches (buffer copies, no shader)
 * - `encodeAttentionDecode`: new tokens over the cache — the forward kernel itself with k/v read from the
 *   caches, so prefill plus single-token steps give exactly the full forward's rows       — attention_forward.wgsl
 *
 * Layout (row-major per token, M = B·T): q [M, H·hd], k and v [M, KV·hd]; query head h reads columns
 * h·hd .. h·hd + hd − 1 and kv head ⌊h / (H/KV)⌋. With a key prefix of P rows (prefix tuning), k and v hold
 * S = P + T rows per sequence, the prefix first; query i sits at key position P + i and sees every prefix key.
 * Pipelines: 3 in all (forward/decode, dS, dq/dk/dv).
 */
import { ShapeError } from '../gpu/errors';
import { UniformWriter } from '../gpu/buffers';
import type { PipelineSpec } from '../gpu/pipeline-cache';
import { CommandRecorder, grid1d, placeholderBuffer } from './dispatch';
import { expectDistinctBuffers, expectIndexLength, type GpuIndexTensor } from './index-tensor';
import { expectPositiveInt, expectShape, formatShape, type GpuTensor } from './tensor';
import attentionForwardWgsl from './attention_forward.wgsl?raw';
import attentionBackwardScoresWgsl from './attention_backward_scores.wgsl?raw';
import attentionBackwardWgsl from './attention_backward.wgsl?raw';

/**
 * Most keys one query may see: the forward/decode kernel keeps a query's scores in workgroup memory
 * (MAX_KEYS in attention_forward.wgsl, 8 KiB of the 16 KiB default).
 */
export const ATTENTION_MAX_KEYS = 2048;
/** Threads per workgroup of the per-query kernels ("tiled": per query; "direct": queries per workgroup) and of dq/dk/dv. */
const ROW_WORKGROUP = 64;

/** Head dimensions the per-query kernels hold in private memory (MAX_HEAD_DIM in attention_forward.wgsl). */
export const ATTENTION_MAX_HEAD_DIM = 256;

/**
 * The pipeline and grid of a kernel with one unit of work per query: one workgroup per query ('main', 'tiled'
 * profile), or one thread per query and 64 queries per workgroup ('per_query', 'direct' profile: CPU drivers,
 * where starting a workgroup and crossing a barrier cost far more than the work of one query).
 */
function perQueryDispatch(
  rec: CommandRecorder,
  spec: Omit<PipelineSpec, 'entryPoint'>,
  queries: number,
): { pipeline: PipelineSpec; workgroups: [number, number] } {
  const direct = rec.gpu.kernels === 'direct';
  return {
    pipeline: { ...spec, entryPoint: direct ? 'per_query' : 'main' },
    workgroups: grid1d(queries, direct ? ROW_WORKGROUP : 1, rec.limits.maxComputeWorkgroupsPerDimension),
  };
}

const FORWARD_PIPELINE: Omit<PipelineSpec, 'entryPoint'> = {
  name: 'attention_forward',
  code: attentionForwardWgsl,
  storage: ['read', 'read', 'read', 'read', 'write', 'write'],
};
const SCORES_PIPELINE: Omit<PipelineSpec, 'entryPoint'> = {
  name: 'attention_backward_scores',
  code: attentionBackwardScoresWgsl,
  storage: ['read', 'read', 'read', 'write'],
};
const GRADS_PIPELINE: PipelineSpec = {
  name: 'attention_backward',
  code: attentionBackwardWgsl,
  storage: ['read', 'read', 'read', 'read', 'read', 'write', 'write', 'write'],
};

export interface AttentionHeads {
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Multiplies q·k; usually 1/√headDim. */
  scale: number;
}

export interface AttentionForwardArgs extends AttentionHeads {
  q: GpuTensor; // [M, H·hd]
  k: GpuTensor; // [B·S, KV·hd], S = prefixLength + seqLen
  v: GpuTensor; // [B·S, KV·hd]
  batch: number;
  seqLen: number;
  /** Key/value rows in front of each sequence's own (prefix tuning); 0 when absent. */
  prefixLength?: number;
  /** [M] u32: 1 = real token, 0 = padding (excluded as a key). Absent: every key is real. */
  keyMask?: GpuIndexTensor | null;
  out: GpuTensor; // [M, H·hd]
  /** [B, H, T, T]: softmax probabilities, saved for the backward (0 where a key is not seen). */
  probs: GpuTensor;
}

export interface AttentionBackwardArgs extends AttentionHeads {
  dOut: GpuTensor; // [M, H·hd]
  q: GpuTensor; // [M, H·hd]
  k: GpuTensor; // [B·S, KV·hd], S = prefixLength + seqLen
  v: GpuTensor; // [B·S, KV·hd]
  probs: GpuTensor; // [B, H, T, S] from the forward
  batch: number;
  seqLen: number;
  /** As in the forward. */
  prefixLength?: number;
  dq: GpuTensor; // [M, H·hd]
  dk: GpuTensor; // [B·S, KV·hd]
  dv: GpuTensor; // [B·S, KV·hd]
}

export interface KvCacheAppendArgs {
  k: GpuTensor; // [B·Tnew, KV·hd]
  v: GpuTensor; // [B·Tnew, KV·hd]
  kCache: GpuTensor; // [B, maxT, KV·hd]
  vCache: GpuTensor; // [B, maxT, KV·hd]
  batch: number;
  newTokens: number;
  /** Tokens already in the cache; the new rows go to positions pastLen .. pastLen + newTokens − 1. */
  pastLen: number;
  maxT: number;
}

export interface AttentionDecodeArgs extends AttentionHeads {
  q: GpuTensor; // [B·Tnew, H·hd]
  kCache: GpuTensor; // [B, maxT, KV·hd], already holding the new tokens (encodeKvCacheAppend)
  vCache: GpuTensor; // [B, maxT, KV·hd]
  batch: number;
  newTokens: number;
  /** Tokens in the cache before this step; new token t sees cache positions 0 ..= pastLen + t. */
  pastLen: number;
  maxT: number;
  out: GpuTensor; // [B·Tnew, H·hd]
}

function checkHeads(kernel: string, a: AttentionHeads): void {
  expectPositiveInt(kernel, 'heads', a.heads);
  expectPositiveInt(kernel, 'kvHeads', a.kvHeads);
  expectPositiveInt(kernel, 'headDim', a.headDim);
  if (a.heads % a.kvHeads !== 0) {
    throw new ShapeError(`${kernel}: heads (${a.heads}) must be a multiple of kvHeads (${a.kvHeads}) for grouped-query attention`);
  }
  if (!Number.isFinite(a.scale)) throw new ShapeError(`${kernel}: scale must be finite, got ${a.scale}`);
  if (a.headDim > ATTENTION_MAX_HEAD_DIM) {
    throw new ShapeError(`${kernel}: headDim ${a.headDim} exceeds ATTENTION_MAX_HEAD_DIM = ${ATTENTION_MAX_HEAD_DIM}, the most the attention kernels hold`);
  }
}

function checkKeys(kernel: string, keys: number): void {
  if (keys > ATTENTION_MAX_KEYS) {
    throw new ShapeError(
      `${kernel}: a query would see ${keys} keys, but the attention kernel holds at most ATTENTION_MAX_KEYS = ${ATTENTION_MAX_KEYS} scores`,
    );
  }
}

/** Refuses pastLen + newTokens > maxT (and non-integers), naming the numbers. */
function checkCacheRange(kernel: string, batch: number, newTokens: number, pastLen: number, maxT: number): void {
  expectPositiveInt(kernel, 'batch', batch);
  expectPositiveInt(kernel, 'newTokens', newTokens);
  expectPositiveInt(kernel, 'maxT', maxT);
  if (!Number.isInteger(pastLen) || pastLen < 0) throw new ShapeError(`${kernel}: pastLen must be an integer ≥ 0, got ${pastLen}`);
  if (pastLen + newTokens > maxT) {
    throw new ShapeError(
      `${kernel}: KV cache overflow: pastLen + newTokens = ${pastLen} + ${newTokens} = ${pastLen + newTokens} exceeds the cache length maxT = ${maxT}`,
    );
  }
}

function forwardUniform(
  batch: number, newTokens: number, pastLen: number, kvRows: number, a: AttentionHeads, hasMask: boolean, writeProbs: boolean,
): ArrayBuffer {
  return new UniformWriter(12)
    .u32(batch).u32(newTokens).u32(pastLen).u32(kvRows)
    .u32(a.heads).u32(a.kvHeads).u32(a.headDim).bool(hasMask)
    .bool(writeProbs).f32(a.scale).u32(0).u32(0).buffer;
}

/** The prefix length P, checked. */
function prefixOf(kernel: string, prefixLength: number | undefined): number {
  const P = prefixLength ?? 0;
  if (!Number.isInteger(P) || P < 0) throw new ShapeError(`${kernel}: prefixLength must be an integer ≥ 0, got ${P}`);
  return P;
}

/** out = causal softmax(scale·q·kᵀ)·v per head, with P saved in `probs` for the backward. */
export function encodeAttentionForward(rec: CommandRecorder, args: AttentionForwardArgs): void {
  const kernel = 'attention_forward';
  const { batch: B, seqLen: T, heads: H, kvHeads: KV, headDim: hd } = args;
  expectPositiveInt(kernel, 'batch', B);
  expectPositiveInt(kernel, 'seqLen', T);
  checkHeads(kernel, args);
  const P = prefixOf(kernel, args.prefixLength);
  const S = P + T;
  checkKeys(kernel, S);
  const M = B * T;
  expectShape(kernel, 'q', args.q, [M, H * hd], '[B·T, H·hd]');
  const keys = P > 0 ? 'B·(P+T)' : 'B·T';
  expectShape(kernel, 'k', args.k, [B * S, KV * hd], `[${keys}, KV·hd]`);
  expectShape(kernel, 'v', args.v, [B * S, KV * hd], `[${keys}, KV·hd]`);
  expectShape(kernel, 'out', args.out, [M, H * hd], '[B·T, H·hd]');
  expectShape(kernel, 'probs', args.probs, [B, H, T, S], P > 0 ? '[B, H, T, P+T]' : '[B, H, T, T]');
  const mask = args.keyMask ?? null;
  if (mask) expectIndexLength(kernel, 'keyMask', mask, B * S, keys);
  expectDistinctBuffers(kernel, { q: args.q, k: args.k, v: args.v, keyMask: mask ?? undefined, out: args.out, probs: args.probs });
  rec.dispatch({
    label: kernel,
    ...perQueryDispatch(rec, FORWARD_PIPELINE, B * H * T),
    uniform: forwardUniform(B, T, P, S, args, mask !== null, true),
    buffers: [args.q.buffer, args.k.buffer, args.v.buffer, mask?.buffer ?? placeholderBuffer(rec.gpu.device), args.out.buffer, args.probs.buffer],
  });
}

/**
 * dq, dk, dv of the forward above from dOut and the saved probabilities (which already carry the causal and
 * padding masks). Two dispatches: dS into a [B, H, T, P+T] scratch buffer, then all three gradients.
 */
export function encodeAttentionBackward(rec: CommandRecorder, args: AttentionBackwardArgs): void {
  const kernel = 'attention_backward';
  const { batch: B, seqLen: T, heads: H, kvHeads: KV, headDim: hd } = args;
  expectPositiveInt(kernel, 'batch', B);
  expectPositiveInt(kernel, 'seqLen', T);
  checkHeads(kernel, args);
  const P = prefixOf(kernel, args.prefixLength);
  const S = P + T;
  const M = B * T;
  expectShape(kernel, 'dOut', args.dOut, [M, H * hd], '[B·T, H·hd]');
  expectShape(kernel, 'q', args.q, [M, H * hd], '[B·T, H·hd]');
  const keys = P > 0 ? 'B·(P+T)' : 'B·T';
  expectShape(kernel, 'k', args.k, [B * S, KV * hd], `[${keys}, KV·hd]`);
  expectShape(kernel, 'v', args.v, [B * S, KV * hd], `[${keys}, KV·hd]`);
  expectShape(kernel, 'probs', args.probs, [B, H, T, S], P > 0 ? '[B, H, T, P+T]' : '[B, H, T, T]');
  expectShape(kernel, 'dq', args.dq, [M, H * hd], '[B·T, H·hd]');
  expectShape(kernel, 'dk', args.dk, [B * S, KV * hd], `[${keys}, KV·hd]`);
  expectShape(kernel, 'dv', args.dv, [B * S, KV * hd], `[${keys}, KV·hd]`);
  expectDistinctBuffers(kernel, {
    dOut: args.dOut, q: args.q, k: args.k, v: args.v, probs: args.probs, dq: args.dq, dk: args.dk, dv: args.dv,
  });
  const maxPerDim = rec.limits.maxComputeWorkgroupsPerDimension;
  const direct = rec.gpu.kernels === 'direct';
  const dS = rec.scratch(B * H * T * S * 4, `${kernel} dS ${formatShape([B, H, T, S])}`);
  rec.dispatch({
    label: `${kernel} (dS = P ⊙ (dP − rowsum(P ⊙ dP)))`,
    ...perQueryDispatch(rec, SCORES_PIPELINE, B * H * T),
    uniform: new UniformWriter(8).u32(B).u32(T).u32(H).u32(KV).u32(hd).u32(P).buffer,
    buffers: [args.dOut.buffer, args.v.buffer, args.probs.buffer, dS],
  });
  rec.dispatch({
    label: `${kernel} (dq, dk, dv)`,
    // One thread per element ('tiled'), or per row of a head ('direct').
    pipeline: { ...GRADS_PIPELINE, entryPoint: direct ? 'per_row' : 'main' },
    uniform: new UniformWriter(8).u32(B).u32(T).u32(H).u32(KV).u32(hd).f32(args.scale).u32(P).buffer,
    buffers: [dS, args.probs.buffer, args.q.buffer, args.k.buffer, args.dOut.buffer, args.dq.buffer, args.dk.buffer, args.dv.buffer],
    workgroups: grid1d((M * H + B * S * KV) * (direct ? 1 : hd), ROW_WORKGROUP, maxPerDim),
  });
}

/** Copies the new k and v rows of each sequence into the caches at positions pastLen .. pastLen + newTokens − 1. */
export function encodeKvCacheAppend(rec: CommandRecorder, args: KvCacheAppendArgs): void {
  const kernel = 'kv_cache_append';
  const { batch: B, newTokens: N, pastLen, maxT } = args;
  checkCacheRange(kernel, B, N, pastLen, maxT);
  if (args.k.shape.length !== 2) throw new ShapeError(`${kernel}: tensor "${args.k.name}" (k) must be 2-D [B·Tnew, KV·hd], got ${formatShape(args.k.shape)}`);
  const width = args.k.shape[1];
  expectShape(kernel, 'k', args.k, [B * N, width], '[B·Tnew, KV·hd]');
  expectShape(kernel, 'v', args.v, [B * N, width], '[B·Tnew, KV·hd]');
  expectShape(kernel, 'kCache', args.kCache, [B, maxT, width], '[B, maxT, KV·hd]');
  expectShape(kernel, 'vCache', args.vCache, [B, maxT, width], '[B, maxT, KV·hd]');
  expectDistinctBuffers(kernel, { k: args.k, v: args.v, kCache: args.kCache, vCache: args.vCache });
  const rowBytes = width * 4;
  for (let b = 0; b < B; b++) {
    const src = b * N * rowBytes;
    const dst = (b * maxT + pastLen) * rowBytes;
    rec.encoder.copyBufferToBuffer(args.k.buffer, src, args.kCache.buffer, dst, N * rowBytes);
    rec.encoder.copyBufferToBuffer(args.v.buffer, src, args.vCache.buffer, dst, N * rowBytes);
  }
}

/** Attention of the new tokens over the cache (causal over pastLen + newTokens positions); P is not kept. */
export function encodeAttentionDecode(rec: CommandRecorder, args: AttentionDecodeArgs): void {
  const kernel = 'attention_decode';
  const { batch: B, newTokens: N, pastLen, maxT, heads: H, kvHeads: KV, headDim: hd } = args;
  checkCacheRange(kernel, B, N, pastLen, maxT);
  checkHeads(kernel, args);
  checkKeys(kernel, pastLen + N);
  expectShape(kernel, 'q', args.q, [B * N, H * hd], '[B·Tnew, H·hd]');
  expectShape(kernel, 'kCache', args.kCache, [B, maxT, KV * hd], '[B, maxT, KV·hd]');
  expectShape(kernel, 'vCache', args.vCache, [B, maxT, KV * hd], '[B, maxT, KV·hd]');
  expectShape(kernel, 'out', args.out, [B * N, H * hd], '[B·Tnew, H·hd]');
  expectDistinctBuffers(kernel, { q: args.q, kCache: args.kCache, vCache: args.vCache, out: args.out });
  rec.dispatch({
    label: kernel,
    ...perQueryDispatch(rec, FORWARD_PIPELINE, B * H * N),
    uniform: forwardUniform(B, N, pastLen, maxT, args, false, false),
    // probs is not written (writeProbs = 0) but must be a writable buffer distinct from the read-only placeholder.
    buffers: [
      args.q.buffer, args.kCache.buffer, args.vCache.buffer, placeholderBuffer(rec.gpu.device), args.out.buffer,
      rec.scratch(4, `${kernel} (no probs)`),
    ],
  });
}
