/**
 * One direction of one torch.nn.LSTM layer over a sequence (reference: reference/lstm.ts):
 * - `encodeLstmRecurrence`: the recurrence over all n steps in one dispatch, given xProj = x·W_ihᵀ + b_ih
 *   (saving gates, c_t and h_{t−1})                                                     — lstm_forward.wgsl
 * - `encodeLstmRecurrenceBackward`: the reverse-time recurrence in one dispatch, giving dGates (the gradient of
 *   the pre-activation gates, hence of xProj) and db_ih = db_hh = Σ_t dGates            — lstm_backward.wgsl
 * - `encodeLstmDirectionForward` / `encodeLstmDirectionBackward`: the above with the matmuls around them:
 *   xProj with the linear kernel; dW_hh = dGatesᵀ·hPrev and dW_ih = dGatesᵀ·x with the weight-gradient
 *   reduction; dx = dGates·W_ih with the backward-input matmul.
 * The recurrence kernels run one workgroup that loops over the steps, so they suit short sequences (prompt
 * encoders: n ≈ 10–30). Their workgroup memory grows with the hidden size h (see `lstmWorkgroupBytes`); a
 * hidden size the device cannot hold is refused with a GpuLimitError naming maxComputeWorkgroupStorageSize.
 * The bidirectional multi-layer stack is in lstm-stack.ts.
 */
import { UniformWriter } from '../gpu/buffers';
import { GpuLimitError, ShapeError } from '../gpu/errors';
import type { PipelineSpec } from '../gpu/pipeline-cache';
import { CommandRecorder } from './dispatch';
import { f32WeightView } from './gpu-weight';
import { expectDistinctBuffers } from './index-tensor';
import { encodeLinearBackwardInput, encodeLinearForward } from './linear';
import { encodeLoraWeightGrad } from './lora-rank';
import { expectShape, formatShape, type GpuTensor } from './tensor';
import activationFnsWgsl from './activation_fns.wgsl?raw';
import lstmForwardWgsl from './lstm_forward.wgsl?raw';
import lstmBackwardWgsl from './lstm_backward.wgsl?raw';

/** The recurrence kernels size their workgroup arrays (CAP) to h rounded up to a multiple of this. */
const CAP_STEP = 64;
/** Threads of a recurrence workgroup: at most this (WebGPU's default maxComputeInvocationsPerWorkgroup). */
const MAX_THREADS = 256;
/** f32 values per unit of capacity each kernel keeps in workgroup memory: h twice and c; dh and dc. */
const WORKGROUP_FLOATS_PER_UNIT = { forward: 3, backward: 2 } as const;

export type LstmKernel = keyof typeof WORKGROUP_FLOATS_PER_UNIT;

function capacity(hidden: number): number {
  return Math.ceil(hidden / CAP_STEP) * CAP_STEP;
}

/** Bytes of workgroup memory the recurrence kernel needs for hidden size h. */
export function lstmWorkgroupBytes(kernel: LstmKernel, hidden: number): number {
  return WORKGROUP_FLOATS_PER_UNIT[kernel] * capacity(hidden) * 4;
}

/** Largest hidden size both recurrence kernels fit in `bytes` of workgroup memory (16 KiB: 1344). */
export function maxLstmHidden(bytes: number): number {
  return Math.floor(bytes / (4 * WORKGROUP_FLOATS_PER_UNIT.forward * CAP_STEP)) * CAP_STEP;
}

/** Refuses a hidden size whose workgroup arrays exceed maxComputeWorkgroupStorageSize, naming the limit. */
export function checkLstmHidden(
  limits: Pick<GPUSupportedLimits, 'maxComputeWorkgroupStorageSize'>,
  kernel: LstmKernel,
  hidden: number,
  what: string,
): void {
  const bytes = lstmWorkgroupBytes(kernel, hidden);
  if (bytes > limits.maxComputeWorkgroupStorageSize) {
    throw new GpuLimitError(
      'maxComputeWorkgroupStorageSize',
      bytes,
      limits.maxComputeWorkgroupStorageSize,
      `${what} (hidden_size ${hidden}; at most ${maxLstmHidden(limits.maxComputeWorkgroupStorageSize)} fits)`,
    );
  }
}

function recurrencePipeline(name: string, code: string, hidden: number, storage: PipelineSpec['storage']): PipelineSpec {
  const cap = capacity(hidden);
  return { name, code: activationFnsWgsl + code, constants: { CAP: cap, WG: Math.min(cap, MAX_THREADS) }, storage };
}

/** What the forward saves for the backward, per direction. */
export interface LstmDirectionSaved {
  /** [n, 4h]: i, f, g, o after their activations */
  gates: GpuTensor;
  /** [n, h]: c_t */
  cell: GpuTensor;
  /** [n, h]: h of the step before t in the direction's order (0 for its first step) */
  hPrev: GpuTensor;
}

/** [n, h] from a weight_hh [4h, h] and a sequence tensor [n, …]. */
function sizes(kernel: string, wHh: GpuTensor, seq: GpuTensor, seqRole: string): { n: number; h: number } {
  const h = wHh.shape[1] ?? 0;
  if (wHh.shape.length !== 2 || h < 1) throw new ShapeError(`${kernel}: tensor "${wHh.name}" (weight_hh) must be 2-D [4h, h], got ${formatShape(wHh.shape)}`);
  expectShape(kernel, 'weight_hh', wHh, [4 * h, h], '[4h, h]');
  const n = seq.shape[0] ?? 0;
  if (seq.shape.length !== 2 || n < 1) throw new ShapeError(`${kernel}: tensor "${seq.name}" (${seqRole}) must be 2-D with n ≥ 1 rows, got ${formatShape(seq.shape)}`);
  return { n, h };
}

/** Checks that `t` is [n, W] with columns offset … offset + h − 1 inside it; returns W. */
function columnBlock(kernel: string, role: string, t: GpuTensor, n: number, h: number, offset: number): number {
  const width = t.shape[1] ?? 0;
  expectShape(kernel, role, t, [n, width], '[n, W]');
  if (!Number.isInteger(offset) || offset < 0 || offset + h > width) {
    throw new ShapeError(`${kernel}: columns ${offset} … ${offset + h - 1} of "${t.name}" (${role}) do not fit its ${width} columns (h = ${h})`);
  }
  return width;
}

function checkSaved(kernel: string, s: LstmDirectionSaved, n: number, h: number): void {
  expectShape(kernel, 'saved gates', s.gates, [n, 4 * h], '[n, 4h]');
  expectShape(kernel, 'saved cell', s.cell, [n, h], '[n, h]');
  expectShape(kernel, 'saved hPrev', s.hPrev, [n, h], '[n, h]');
}

export interface LstmRecurrenceArgs {
  /** [n, 4h]: x·W_ihᵀ + b_ih for every step */
  xProj: GpuTensor;
  /** [4h, h] */
  wHh: GpuTensor;
  /** [4h] */
  bHh: GpuTensor;
  /** Run t = n−1 … 0 (the `_reverse` direction). */
  reverse: boolean;
  /** [n, W]: h_t is written to columns outOffset … outOffset + h − 1 of row t. */
  out: GpuTensor;
  outOffset?: number;
  /** Written for the backward. */
  saved: LstmDirectionSaved;
}

export function encodeLstmRecurrence(rec: CommandRecorder, args: LstmRecurrenceArgs): void {
  const kernel = 'lstm_forward';
  const { n, h } = sizes(kernel, args.wHh, args.xProj, 'xProj');
  expectShape(kernel, 'xProj', args.xProj, [n, 4 * h], '[n, 4h]');
  expectShape(kernel, 'bias_hh', args.bHh, [4 * h], '[4h]');
  const outOffset = args.outOffset ?? 0;
  const outStride = columnBlock(kernel, 'out', args.out, n, h, outOffset);
  checkSaved(kernel, args.saved, n, h);
  const { gates, cell, hPrev } = args.saved;
  expectDistinctBuffers(kernel, { out: args.out, gates, cell, hPrev }, { xProj: args.xProj, wHh: args.wHh, bHh: args.bHh });
  checkLstmHidden(rec.limits, 'forward', h, kernel);
  rec.dispatch({
    label: `${kernel}(${args.out.name}${args.reverse ? ', reverse' : ''})`,
    pipeline: recurrencePipeline(kernel, lstmForwardWgsl, h, ['read', 'read', 'read', 'write', 'write', 'write', 'write']),
    uniform: new UniformWriter(8).u32(n).u32(h).bool(args.reverse).u32(outStride).u32(outOffset).buffer,
    buffers: [args.xProj.buffer, args.wHh.buffer, args.bHh.buffer, args.out.buffer, gates.buffer, cell.buffer, hPrev.buffer],
    workgroups: [1],
  });
}

export interface LstmRecurrenceBackwardArgs {
  /** [n, W]: dL/dh_t in columns dOutOffset … dOutOffset + h − 1 of row t */
  dOut: GpuTensor;
  dOutOffset?: number;
  /** From the forward. */
  saved: LstmDirectionSaved;
  /** [4h, h] */
  wHh: GpuTensor;
  reverse: boolean;
  /** [n, 4h], written: the gradient of the pre-activation gates (= of xProj) */
  dGates: GpuTensor;
  /** [4h] each: Σ_t dGates, written to both (added when accumulate). */
  dbIh: GpuTensor;
  dbHh: GpuTensor;
  accumulate?: boolean;
}

export function encodeLstmRecurrenceBackward(rec: CommandRecorder, args: LstmRecurrenceBackwardArgs): void {
  const kernel = 'lstm_backward';
  const { n, h } = sizes(kernel, args.wHh, args.dOut, 'dOut');
  const dOutOffset = args.dOutOffset ?? 0;
  const dOutStride = columnBlock(kernel, 'dOut', args.dOut, n, h, dOutOffset);
  checkSaved(kernel, args.saved, n, h);
  expectShape(kernel, 'dGates', args.dGates, [n, 4 * h], '[n, 4h]');
  expectShape(kernel, 'dbIh', args.dbIh, [4 * h], '[4h]');
  expectShape(kernel, 'dbHh', args.dbHh, [4 * h], '[4h]');
  const { gates, cell } = args.saved;
  expectDistinctBuffers(kernel, { dGates: args.dGates, dbIh: args.dbIh, dbHh: args.dbHh }, { dOut: args.dOut, gates, cell, wHh: args.wHh });
  checkLstmHidden(rec.limits, 'backward', h, kernel);
  rec.dispatch({
    label: `${kernel}(${args.dGates.name}${args.reverse ? ', reverse' : ''})`,
    pipeline: recurrencePipeline(kernel, lstmBackwardWgsl, h, ['read', 'read', 'read', 'read', 'write', 'write', 'write']),
    uniform: new UniformWriter(8).u32(n).u32(h).bool(args.reverse).u32(dOutStride).u32(dOutOffset).bool(Boolean(args.accumulate)).buffer,
    buffers: [args.dOut.buffer, gates.buffer, cell.buffer, args.wHh.buffer, args.dGates.buffer, args.dbIh.buffer, args.dbHh.buffer],
    workgroups: [1],
  });
}

/** One direction of one layer: PyTorch's weight_ih_l{k}[_reverse] and the rest; also the shape of its gradients. */
export interface LstmDirectionParams {
  /** [4h, in] */
  wIh: GpuTensor;
  /** [4h, h] */
  wHh: GpuTensor;
  /** [4h] */
  bIh: GpuTensor;
  /** [4h] */
  bHh: GpuTensor;
}

export interface LstmDirectionForwardArgs {
  /** [n, in] */
  x: GpuTensor;
  params: LstmDirectionParams;
  reverse: boolean;
  /** [n, 4h], written: x·W_ihᵀ + b_ih (a temporary) */
  xProj: GpuTensor;
  /** [n, W]: h_t goes to columns outOffset … outOffset + h − 1. */
  out: GpuTensor;
  outOffset?: number;
  saved: LstmDirectionSaved;
}

export function encodeLstmDirectionForward(rec: CommandRecorder, args: LstmDirectionForwardArgs): void {
  const { params: p } = args;
  encodeLinearForward(rec, { x: args.x, w0: f32WeightView(rec.gpu.device, p.wIh), bias: p.bIh, y: args.xProj });
  encodeLstmRecurrence(rec, {
    xProj: args.xProj, wHh: p.wHh, bHh: p.bHh, reverse: args.reverse, out: args.out, outOffset: args.outOffset, saved: args.saved,
  });
}

export interface LstmDirectionBackwardArgs {
  /** The forward's input [n, in]. */
  x: GpuTensor;
  params: LstmDirectionParams;
  reverse: boolean;
  saved: LstmDirectionSaved;
  /** [n, W]: dL/dh_t in columns dOutOffset … dOutOffset + h − 1 */
  dOut: GpuTensor;
  dOutOffset?: number;
  /** [n, 4h], written: the gradient of the pre-activation gates (a temporary) */
  dGates: GpuTensor;
  /** Gradients of the parameters, same shapes; overwritten, or added to when accumulate. */
  grads: LstmDirectionParams;
  accumulate?: boolean;
  /** [n, in]: dL/dx; null when the input needs no gradient. */
  dx: GpuTensor | null;
  accumulateDx?: boolean;
}

export function encodeLstmDirectionBackward(rec: CommandRecorder, args: LstmDirectionBackwardArgs): void {
  const { params: p, grads: g, saved } = args;
  const kernel = 'lstm direction backward';
  expectShape(kernel, 'grad weight_ih', g.wIh, p.wIh.shape, formatShape(p.wIh.shape));
  expectShape(kernel, 'grad weight_hh', g.wHh, p.wHh.shape, formatShape(p.wHh.shape));
  encodeLstmRecurrenceBackward(rec, {
    dOut: args.dOut, dOutOffset: args.dOutOffset, saved, wHh: p.wHh, reverse: args.reverse,
    dGates: args.dGates, dbIh: g.bIh, dbHh: g.bHh, accumulate: args.accumulate,
  });
  encodeLoraWeightGrad(rec, `lstm dW_hh(${g.wHh.name}) = dGatesᵀ·hPrev`, {
    left: args.dGates, right: saved.hPrev, out: g.wHh, scale: 1, accumulate: args.accumulate,
  });
  encodeLoraWeightGrad(rec, `lstm dW_ih(${g.wIh.name}) = dGatesᵀ·x`, {
    left: args.dGates, right: args.x, out: g.wIh, scale: 1, accumulate: args.accumulate,
  });
  if (args.dx) {
    encodeLinearBackwardInput(rec, { dy: args.dGates, w0: f32WeightView(rec.gpu.device, p.wIh), dx: args.dx, accumulate: args.accumulateDx });
  }
}
