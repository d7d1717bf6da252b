/**
 * Wrappers of the small rank-r kernels of the LoRA branch:
 * - `encodeLoraDown`: xa = dropout(x)·Aᵀ (forward) and g = dy·B (backward)            — lora_down.wgsl
 * - `encodeLoraWeightGrad`: dA = scale·gᵀ·dropout(x) and dB = scale·dyᵀ·xa, reduced over tokens in split
 *   chunks plus a reduction pass instead of float atomics                          — lora_weight_grad.wgsl,
 *                                                                                     reduce_partials.wgsl
 * With the 'direct' kernel profile (gpu/device.ts) each thread computes a block of 4 × 4·rq outputs instead of one
 * (4 rows or long-side indices × up to 16 ranks, `rankQuads`; lora_down_blocked.wgsl,
 * lora_weight_grad_blocked.wgsl), and reductions split less.
 */
import { UniformWriter } from '../gpu/buffers';
import type { PipelineSpec } from '../gpu/pipeline-cache';
import type { KernelProfile } from '../gpu/device';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d } from './dispatch';
import { NO_DROPOUT, type DropoutSpec } from './linear';
import { expectShape, type GpuTensor } from './tensor';
import dropoutMaskWgsl from './dropout_mask.wgsl?raw';
import loraDownIoWgsl from './lora_down_io.wgsl?raw';
import loraDownWgsl from './lora_down.wgsl?raw';
import loraWeightGradIoWgsl from './lora_weight_grad_io.wgsl?raw';
import loraWeightGradWgsl from './lora_weight_grad.wgsl?raw';
import loraDownBlockedWgsl from './lora_down_blocked.wgsl?raw';
import loraWeightGradBlockedWgsl from './lora_weight_grad_blocked.wgsl?raw';
import reducePartialsWgsl from './reduce_partials.wgsl?raw';

function rows(kernel: string, role: string, t: GpuTensor): number {
  if (t.shape.length !== 2) throw new ShapeError(`${kernel}: tensor "${t.name}" (${role}) must be 2-D, got [${t.shape.join(', ')}]`);
  return t.shape[0];
}

/** xa[M, r] = dropout(x)[M, K]·A[r, K]ᵀ. */
export function encodeLoraXa(rec: CommandRecorder, args: { x: GpuTensor; a: GpuTensor; xa: GpuTensor; dropout?: DropoutSpec }): void {
  const kernel = 'lora_down(xa = dropout(x)·Aᵀ)';
  const M = rows(kernel, 'x', args.x);
  const K = args.x.shape[1];
  const r = rows(kernel, 'lora_A', args.a);
  expectShape(kernel, 'lora_A', args.a, [r, K], '[r, K]');
  expectShape(kernel, 'xa', args.xa, [M, r], '[M, r]');
  encodeLoraDown(rec, kernel, args.x.buffer, args.a.buffer, args.xa.buffer, M, K, r, false, args.dropout ?? NO_DROPOUT);
}

/** g[M, r] = dy[M, N]·B[N, r]. */
export function encodeLoraG(rec: CommandRecorder, args: { dy: GpuTensor; b: GpuTensor; g: GpuTensor }): void {
  const kernel = 'lora_down(g = dy·B)';
  const M = rows(kernel, 'dy', args.dy);
  const N = args.dy.shape[1];
  const r = args.b.shape[1] ?? 0;
  expectShape(kernel, 'lora_B', args.b, [N, r], '[N, r]');
  expectShape(kernel, 'g', args.g, [M, r], '[M, r]');
  encodeLoraDown(rec, kernel, args.dy.buffer, args.b.buffer, args.g.buffer, M, N, r, true, NO_DROPOUT);
}

function encodeLoraDown(
  rec: CommandRecorder,
  label: string,
  left: GPUBuffer,
  right: GPUBuffer,
  out: GPUBuffer,
  M: number,
  C: number,
  r: number,
  transposeRight: boolean,
  dropout: DropoutSpec,
): void {
  // The 'direct' profile computes a block of 4 rows × 4·rq ranks per thread (lora_down_blocked.wgsl), the 'tiled' one
  // a single output.
  const blocked = rec.gpu.kernels === 'direct';
  const rq = rankQuads(r);
  const pipeline: PipelineSpec = {
    name: blocked ? 'lora_down_blocked' : 'lora_down',
    code: dropoutMaskWgsl + loraDownIoWgsl + (blocked ? loraDownBlockedWgsl : loraDownWgsl),
    constants: blocked ? { TRANSPOSE_R: transposeRight ? 1 : 0, RQ: rq, BLOCKED_WG } : { TRANSPOSE_R: transposeRight ? 1 : 0 },
    storage: ['read', 'read', 'write'],
  };
  rec.dispatch({
    label,
    pipeline,
    uniform: new UniformWriter(8).u32(M).u32(C).u32(r).u32(dropout.seed >>> 0).f32(dropout.p).buffer,
    buffers: [left, right, out],
    workgroups: blocked ? [Math.ceil(Math.ceil(M / 4) / BLOCKED_WG), Math.ceil(r / (4 * rq))] : grid1d(M * r, 64, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}

/**
 * Outputs worth computing in parallel before a reduction over tokens is split: many on a GPU; on a CPU driver
 * (a few cores) only enough to keep them busy, since the extra partial-sum pass costs more there than it saves.
 */
/**
 * Blocks of 4 ranks each thread of a blocked rank kernel takes (RQ in lora_down_blocked.wgsl and
 * lora_weight_grad_blocked.wgsl): enough for the whole rank up to 16 (r = 8: 2; r = 16 and above: 4).
 */
export function rankQuads(r: number): number {
  return Math.min(4, Math.max(1, Math.ceil(r / 4)));
}

/**
 * Threads per workgroup of the blocked rank kernels. Small, because each thread does much: a CPU driver runs a
 * workgroup on one core, and 256 tokens (64 blocks of 4) must still make several workgroups for the cores.
 */
const BLOCKED_WG = 16;

const TARGET_THREADS: Record<KernelProfile, number> = { tiled: 16384, direct: 1024 };
/** Fewest tokens one chunk of a split reduction sums. */
const MIN_CHUNK = 16;

/** How many chunks a reduction of M tokens into P·Q outputs is split into. */
export function reductionSplits(M: number, outputs: number, profile: KernelProfile = 'tiled'): number {
  const wanted = Math.ceil(TARGET_THREADS[profile] / Math.max(1, outputs));
  return Math.max(1, Math.min(wanted, Math.floor(M / MIN_CHUNK)));
}

export interface WeightGradArgs {
  left: GpuTensor; // [M, P]
  right: GpuTensor; // [M, Q]
  out: GpuTensor; // [P, Q]
  scale: number;
  /** Dropout mask applied to `right` (x for dA). */
  dropout?: DropoutSpec;
  /** Add into `out` (gradient accumulation) instead of overwriting it. */
  accumulate?: boolean;
  /** Force a number of splits (tests); chosen from the shape otherwise. */
  splits?: number;
}

/** out[P, Q] = (accumulate ? out : 0) + scale·leftᵀ·(mask ⊙ right), reduced over the M rows. */
export function encodeLoraWeightGrad(rec: CommandRecorder, label: string, args: WeightGradArgs): void {
  const M = rows(label, 'left', args.left);
  const Pn = args.left.shape[1];
  const Q = args.right.shape[1] ?? 0;
  expectShape(label, 'right', args.right, [M, Q], '[M, Q]');
  expectShape(label, 'out', args.out, [Pn, Q], '[P, Q]');
  const outputs = Pn * Q;
  const splits = args.splits ?? reductionSplits(M, outputs, rec.gpu.kernels);
  if (!Number.isInteger(splits) || splits < 1) throw new ShapeError(`${label}: splits must be a positive integer, got ${splits}`);
  const chunk = Math.ceil(M / splits);
  const dropout = args.dropout ?? NO_DROPOUT;
  const maxPerDim = rec.limits.maxComputeWorkgroupsPerDimension;
  const dst = splits === 1 ? args.out.buffer : rec.scratch(splits * outputs * 4, `${label} partial sums`);
  // The 'direct' profile computes a block of 4 × 4·rq outputs per thread (lora_weight_grad_blocked.wgsl), the 'tiled'
  // one a single.
  const blocked = rec.gpu.kernels === 'direct';
  // Blocked: the rank side (the shorter one) is workgroup_id.y in blocks of 4·rq, the long side's blocks of 4 run
  // along x.
  const smallQ = Q < Pn;
  const [long, short] = smallQ ? [Pn, Q] : [Q, Pn];
  const rq = rankQuads(short);
  rec.dispatch({
    label,
    pipeline: {
      name: blocked ? 'lora_weight_grad_blocked' : 'lora_weight_grad',
      code: dropoutMaskWgsl + loraWeightGradIoWgsl + (blocked ? loraWeightGradBlockedWgsl : loraWeightGradWgsl),
      constants: blocked ? { SMALL_Q: smallQ ? 1 : 0, RQ: rq, BLOCKED_WG } : undefined,
      storage: ['read', 'read', 'write'],
    },
    uniform: new UniformWriter(12)
      .u32(M).u32(Pn).u32(Q).u32(splits)
      .u32(chunk).u32(dropout.seed >>> 0).bool(Boolean(args.accumulate)).u32(0)
      .f32(args.scale).f32(dropout.p).buffer,
    buffers: [args.left.buffer, args.right.buffer, dst],
    workgroups: blocked ? [Math.ceil(Math.ceil(long / 4) / BLOCKED_WG), Math.ceil(short / (4 * rq)), splits] : grid1d(splits * outputs, 64, maxPerDim),
  });
  if (splits > 1) {
    rec.dispatch({
      label: `${label} (reduce ${splits} partial sums)`,
      pipeline: { name: 'reduce_partials', code: reducePartialsWgsl, storage: ['read', 'write'] },
      uniform: new UniformWriter(8).u32(outputs).u32(splits).bool(Boolean(args.accumulate)).u32(0).f32(args.scale).buffer,
      buffers: [dst, args.out.buffer],
      workgroups: grid1d(outputs, 64, maxPerDim),
    });
  }
}

/** dA[r, K] = scale·g[M, r]ᵀ·dropout(x)[M, K]. */
export function encodeLoraGradA(
  rec: CommandRecorder,
  args: { g: GpuTensor; x: GpuTensor; dA: GpuTensor; scale: number; dropout?: DropoutSpec; accumulate?: boolean; splits?: number },
): void {
  encodeLoraWeightGrad(rec, 'lora_weight_grad(dA = s·gᵀ·dropout(x))', {
    left: args.g, right: args.x, out: args.dA, scale: args.scale, dropout: args.dropout, accumulate: args.accumulate, splits: args.splits,
  });
}

/** dB[N, r] = scale·dy[M, N]ᵀ·xa[M, r]. */
export function encodeLoraGradB(
  rec: CommandRecorder,
  args: { dy: GpuTensor; xa: GpuTensor; dB: GpuTensor; scale: number; accumulate?: boolean; splits?: number },
): void {
  encodeLoraWeightGrad(rec, 'lora_weight_grad(dB = s·dyᵀ·xa)', {
    left: args.dy, right: args.xa, out: args.dB, scale: args.scale, accumulate: args.accumulate, splits: args.splits,
  });
}
