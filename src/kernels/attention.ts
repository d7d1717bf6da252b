/**
 * Wrappers of causal multi-head attention with grouped-query heads (reference: reference/attention.ts). Nothing
 * of size T² is stored: the forward saves one softmax statistic per query and head, lse = log Σ_j exp(s_ij), and
 * the backward recomputes the probabilities from it (memory-efficient attention, as FlashAttention's backward).
 * - `encodeAttentionForward`: out = softmax(scale·q·kᵀ, causal, key padding mask)·v, saving lse [B, H, T]
 *                                                                                — attention_forward.wgsl
 * - `encodeAttentionBackward`: dq, dk, dv from q, k, v, out, lse and dOut: (lse, D = dOut·out) per query row
 *   into a [B, H, T] scratch, then dq per query row, then dk and dv per key row
 *                                      — attention_backward_index.wgsl + attention_backward_stats.wgsl,
 *                                        attention_backward_index.wgsl + attention_backward.wgsl
 * - `encodeKvCacheAppend`: copies new k/v rows into [B, maxT, KV·hd] caches (buffer copies, no shader)
 * - `encodeAttentionDecode`: new tokens over the cache — the forward kernel itself with k/v read from the
 *   caches (and no lse written), so prefill plus single-token steps give exactly the full forward's rows
 *                                                                                — attention_forward.wgsl
 *
 * Layout (row-major per token, M = B·T): q [M, H·hd], k and v [M, KV·hd]; query head h reads columns
 * h·hd .. h·hd + hd − 1 and kv head ⌊h / (H/KV)⌋. With a key prefix of P rows (prefix tuning), k and v hold
 * S = P + T rows per sequence, the prefix first; query i sits at key position P + i and sees every prefix key.
 * A query that sees no key (all its keys padding) gets out = 0, zero gradients, and lse = ATTENTION_NO_KEYS_LSE.
 * Pipelines: 4 in all (forward/decode; the backward's stats, dq, and dk/dv), each with its 'tiled' and 'direct'
 * entry point but the stats, which has one.
 */
import { ShapeError } from '../gpu/errors';
import { UniformWriter } from '../gpu/buffers';
import type { PipelineSpec } from '../gpu/pipeline-cache';
import { CommandRecorder, grid1d, placeholderBuffer } from './dispatch';
import { expectDistinctBuffers, expectIndexLength, type GpuIndexTensor } from './index-tensor';
import { expectPositiveInt, expectShape, formatShape, type GpuTensor } from './tensor';
import { ATTENTION_NO_KEYS_LSE } from './reference/attention';
import attentionForwardWgsl from './attention_forward.wgsl?raw';
import attentionBackwardIndexWgsl from './attention_backward_index.wgsl?raw';
import attentionBackwardStatsWgsl from './attention_backward_stats.wgsl?raw';
import attentionBackwardWgsl from './attention_backward.wgsl?raw';

/** lse of a query that sees no key (NO_KEYS_LSE in attention_forward.wgsl; see reference/attention.ts). */
export { ATTENTION_NO_KEYS_LSE };

/**
 * Most keys one query may see: the forward/decode kernel keeps a query's scores in workgroup memory
 * (MAX_KEYS in attention_forward.wgsl, 8 KiB of the 16 KiB default).
 */
export const ATTENTION_MAX_KEYS = 2048;
/** Threads per workgroup of the per-row kernels ("tiled": per row; "direct": rows per workgroup) and of the backward's stats. */
const ROW_WORKGROUP = 64;

/** Head dimensions the per-query kernels hold in private memory (MAX_HEAD_DIM in attention_forward.wgsl). */
export const ATTENTION_MAX_HEAD_DIM = 256;

/**
 * The pipeline and grid of a kernel with one unit of work per row (a query, or a key of a kv head): one workgroup
 * per row (entry point `tiled`, 'tiled' profile), or one thread per row and 64 rows per workgroup (`direct`,
 * 'direct' profile: CPU drivers, where starting a workgroup and crossing a barrier cost far more than the work of
 * one row).
 */
function perRowDispatch(
  rec: CommandRecorder,
  spec: Omit<PipelineSpec, 'entryPoint'>,
  entryPoints: { tiled: string; direct: string },
  rows: number,
): { pipeline: PipelineSpec; workgroups: [number, number] } {
  const direct = rec.gpu.kernels === 'direct';
  return {
    pipeline: { ...spec, entryPoint: direct ? entryPoints.direct : entryPoints.tiled },
    workgroups: grid1d(rows, direct ? ROW_WORKGROUP : 1, rec.limits.maxComputeWorkgroupsPerDimension),
  };
}
const PER_QUERY = { tiled: 'main', direct: 'per_query' };

const FORWARD_PIPELINE: Omit<PipelineSpec, 'entryPoint'> = {
  name: 'attention_forward',
  code: attentionForwardWgsl,
  storage: ['read', 'read', 'read', 'read', 'write', 'write'],
};
const STATS_PIPELINE: PipelineSpec = {
  name: 'attention_backward_stats',
  code: attentionBackwardIndexWgsl + attentionBackwardStatsWgsl,
  storage: ['read', 'read', 'read', 'write'],
};
const BACKWARD_CODE = attentionBackwardIndexWgsl + attentionBackwardWgsl;
/** q, k, v, keyMask, dOut, stats; then dq. */
const DQ_PIPELINE: Omit<PipelineSpec, 'entryPoint'> = {
  name: 'attention_backward_dq',
  code: BACKWARD_CODE,
  storage: ['read', 'read', 'read', 'read', 'read', 'read', 'write'],
};
/** q, k, v, keyMask, dOut, stats; then dk and dv: the 8 storage buffers WebGPU guarantees per stage. */
const DKV_PIPELINE: Omit<PipelineSpec, 'entryPoint'> = {
  name: 'attention_backward_dkv',
  code: BACKWARD_CODE,
  storage: ['read', 'read', 'read', 'read', 'read', 'read', 'write', 'write'],
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
  /** [B·S] u32: 1 = real token, 0 = padding (excluded as a key). Absent: every key is real. */
  keyMask?: GpuIndexTensor | null;
  out: GpuTensor; // [M, H·hd]
  /**
   * [B, H, T]: per query and head, the log-sum-exp of its scaled visible scores, saved for the backward
   * (ATTENTION_NO_KEYS_LSE for a query that sees no key).
   */
  lse: GpuTensor;
}

export interface AttentionBackwardArgs extends AttentionHeads {
  dOut: GpuTensor; // [M, H·hd]
  q: GpuTensor; // [M, H·hd]
  k: GpuTensor; // [B·S, KV·hd], S = prefixLength + seqLen
  v: GpuTensor; // [B·S, KV·hd]
  /** The forward's output [M, H·hd] and lse [B, H, T]. */
  out: GpuTensor;
  lse: GpuTensor;
  batch: number;
  seqLen: number;
  /** As in the forward. */
  prefixLength?: number;
  /** The forward's key mask [B·S] (the backward recomputes which keys each query saw); absent: every key is real. */
  keyMask?: GpuIndexTensor | null;
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
  batch: number, newTokens: number, pastLen: number, kvRows: number, a: AttentionHeads, hasMask: boolean, writeLse: boolean,
): ArrayBuffer {
  return new UniformWriter(12)
    .u32(batch).u32(newTokens).u32(pastLen).u32(kvRows)
    .u32(a.heads).u32(a.kvHeads).u32(a.headDim).bool(hasMask)
    .bool(writeLse).f32(a.scale).u32(0).u32(0).buffer;
}

/** The prefix length P, checked. */
function prefixOf(kernel: string, prefixLength: number | undefined): number {
  const P = prefixLength ?? 0;
  if (!Number.isInteger(P) || P < 0) throw new ShapeError(`${kernel}: prefixLength must be an integer ≥ 0, got ${P}`);
  return P;
}

/**
 * The checks the forward and the backward share: batch, sequence, heads, prefix, q, k, v and the key mask. Returns
 * the sizes, the names of the key rows and of lse's dimensions for messages, and the mask (null when absent).
 */
function checkSequence(kernel: string, args: AttentionForwardArgs | AttentionBackwardArgs) {
  const { batch: B, seqLen: T, heads: H, kvHeads: KV, headDim: hd } = args;
  expectPositiveInt(kernel, 'batch', B);
  expectPositiveInt(kernel, 'seqLen', T);
  checkHeads(kernel, args);
  const P = prefixOf(kernel, args.prefixLength);
  const S = P + T;
  const M = B * T;
  const keys = P > 0 ? 'B·(P+T)' : 'B·T';
  expectShape(kernel, 'q', args.q, [M, H * hd], '[B·T, H·hd]');
  expectShape(kernel, 'k', args.k, [B * S, KV * hd], `[${keys}, KV·hd]`);
  expectShape(kernel, 'v', args.v, [B * S, KV * hd], `[${keys}, KV·hd]`);
  expectShape(kernel, 'out', args.out, [M, H * hd], '[B·T, H·hd]');
  expectShape(kernel, 'lse', args.lse, [B, H, T], '[B, H, T]');
  const mask = args.keyMask ?? null;
  if (mask) expectIndexLength(kernel, 'keyMask', mask, B * S, keys);
  return { B, T, H, KV, hd, P, S, M, keys, mask };
}

/** out = causal softmax(scale·q·kᵀ)·v per head, with lse saved for the backward. */
export function encodeAttentionForward(rec: CommandRecorder, args: AttentionForwardArgs): void {
  const kernel = 'attention_forward';
  const { B, T, H, P, S, mask } = checkSequence(kernel, args);
  checkKeys(kernel, S);
  expectDistinctBuffers(kernel, { out: args.out, lse: args.lse }, { q: args.q, k: args.k, v: args.v, keyMask: mask ?? undefined });
  rec.dispatch({
    label: kernel,
    ...perRowDispatch(rec, FORWARD_PIPELINE, PER_QUERY, B * H * T),
    uniform: forwardUniform(B, T, P, S, args, mask !== null, true),
    buffers: [args.q.buffer, args.k.buffer, args.v.buffer, mask?.buffer ?? placeholderBuffer(rec.gpu.device), args.out.buffer, args.lse.buffer],
  });
}

/**
 * dq, dk, dv of the forward above from dOut, with the probabilities recomputed from q, k and the saved lse (and
 * the causal and key masks), never stored. Three dispatches: (lse, D = dOut·out) per query row into a [B, H, T]
 * scratch, dq per query row, then dk and dv per key row and kv head. dk and dv cover all B·(P+T) key rows.
 */
export function encodeAttentionBackward(rec: CommandRecorder, args: AttentionBackwardArgs): void {
  const kernel = 'attention_backward';
  const { B, T, H, KV, hd, P, S, M, keys, mask } = checkSequence(kernel, args);
  expectShape(kernel, 'dOut', args.dOut, [M, H * hd], '[B·T, H·hd]');
  expectShape(kernel, 'dq', args.dq, [M, H * hd], '[B·T, H·hd]');
  expectShape(kernel, 'dk', args.dk, [B * S, KV * hd], `[${keys}, KV·hd]`);
  expectShape(kernel, 'dv', args.dv, [B * S, KV * hd], `[${keys}, KV·hd]`);
  expectDistinctBuffers(
    kernel,
    { dq: args.dq, dk: args.dk, dv: args.dv },
    { dOut: args.dOut, q: args.q, k: args.k, v: args.v, out: args.out, lse: args.lse, keyMask: mask ?? undefined },
  );
  const rows = B * H * T;
  const stats = rec.scratch(rows * 8, `${kernel} (lse, D) ${formatShape([B, H, T, 2])}`);
  const uniform = new UniformWriter(8).u32(B).u32(T).u32(H).u32(KV).u32(hd).u32(P).bool(mask !== null).f32(args.scale).buffer;
  rec.dispatch({
    label: `${kernel} (D = dOut·out)`,
    pipeline: STATS_PIPELINE,
    uniform,
    buffers: [args.dOut.buffer, args.out.buffer, args.lse.buffer, stats],
    workgroups: grid1d(rows, ROW_WORKGROUP, rec.limits.maxComputeWorkgroupsPerDimension),
  });
  const inputs = [args.q.buffer, args.k.buffer, args.v.buffer, mask?.buffer ?? placeholderBuffer(rec.gpu.device), args.dOut.buffer, stats];
  rec.dispatch({
    label: `${kernel} (dq)`,
    ...perRowDispatch(rec, DQ_PIPELINE, { tiled: 'dq', direct: 'dq_per_query' }, rows),
    uniform,
    buffers: [...inputs, args.dq.buffer],
  });
  rec.dispatch({
    label: `${kernel} (dk, dv)`,
    ...perRowDispatch(rec, DKV_PIPELINE, { tiled: 'dkv', direct: 'dkv_per_key' }, B * S * KV),
    uniform,
    buffers: [...inputs, args.dk.buffer, args.dv.buffer],
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

/** Attention of the new tokens over the cache (causal over pastLen + newTokens positions); no lse is kept. */
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
    ...perRowDispatch(rec, FORWARD_PIPELINE, PER_QUERY, B * H * N),
    uniform: forwardUniform(B, N, pastLen, maxT, args, false, false),
    // lse is not written (writeLse = 0) but must be a writable buffer distinct from the read-only placeholder.
    buffers: [
      args.q.buffer, args.kCache.buffer, args.vCache.buffer, placeholderBuffer(rec.gpu.device), args.out.buffer,
      rec.scratch(4, `${kernel} (no lse)`),
    ],
  });
}
