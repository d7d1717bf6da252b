/**
 * LayerNorm (GPT-2) and RMSNorm (Llama) over the last dimension, forward and input-gradient backward —
 * layer_norm.wgsl and rms_norm.wgsl. The norm weights are frozen, so the backward computes dx only; the per-row
 * statistics of the forward are kept and reused by the backward. The 'tiled' kernel profile reduces each row in
 * one workgroup; the 'direct' profile (CPU drivers) gives each thread a whole row, ROWS rows to a workgroup,
 * because there every workgroup and every barrier costs far more than the row's arithmetic.
 */
import { UniformWriter } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d } from './dispatch';
import { expectDistinctBuffers } from './index-tensor';
import { expectShape, formatShape, type GpuTensor } from './tensor';
import layerNormWgsl from './layer_norm.wgsl?raw';
import rmsNormWgsl from './rms_norm.wgsl?raw';

/** Rows per workgroup of the per-row entry points (ROWS in the .wgsl files). */
const ROWS = 64;

export interface LayerNormArgs {
  /** Input [M, d]. */
  x: GpuTensor;
  /** [d] */
  weight: GpuTensor;
  /** [d] */
  bias: GpuTensor;
  /** nn.LayerNorm eps (GPT-2: layer_norm_epsilon = 1e-5). */
  eps: number;
  /** Output [M, d]. */
  y: GpuTensor;
  /** [M, 2]: (mean, rstd) of each row, written for the backward. */
  stats: GpuTensor;
}

export interface LayerNormBackwardArgs {
  /** Upstream gradient [M, d]. */
  dy: GpuTensor;
  /** The forward's input [M, d]. */
  x: GpuTensor;
  /** [d] */
  weight: GpuTensor;
  /** [M, 2] from the forward. */
  stats: GpuTensor;
  /** Input gradient [M, d]. */
  dx: GpuTensor;
  /** dx += gradient (residual streams) instead of dx = gradient. */
  accumulate?: boolean;
}

export interface RmsNormArgs {
  x: GpuTensor;
  weight: GpuTensor;
  /** LlamaRMSNorm variance_epsilon (config rms_norm_eps). */
  eps: number;
  y: GpuTensor;
  /** [M]: 1/√(mean(x²) + eps) of each row, written for the backward. */
  rstd: GpuTensor;
}

export interface RmsNormBackwardArgs {
  dy: GpuTensor;
  x: GpuTensor;
  weight: GpuTensor;
  /** [M] from the forward. */
  rstd: GpuTensor;
  dx: GpuTensor;
  accumulate?: boolean;
}

function rowsOf(kernel: string, x: GpuTensor): [number, number] {
  if (x.shape.length !== 2 || x.shape[0] < 1 || x.shape[1] < 1) {
    throw new ShapeError(`${kernel}: tensor "${x.name}" (x) must be a non-empty 2-D [M, d], got ${formatShape(x.shape)}`);
  }
  return [x.shape[0], x.shape[1]];
}

function checkEps(kernel: string, eps: number): void {
  if (!Number.isFinite(eps) || eps < 0) throw new RangeError(`${kernel}: eps must be a finite number ≥ 0, got ${eps}`);
}

function dispatchRows(
  rec: CommandRecorder,
  label: string,
  name: string,
  code: string,
  entryPoint: 'forward' | 'backward',
  M: number,
  d: number,
  accumulate: boolean,
  eps: number,
  /** Storage bindings 1, 2, … with their access. */
  bindings: ReadonlyArray<readonly ['read' | 'write', GPUBuffer]>,
): void {
  // Both entry points of a file share its bindings and uniform; only the grid differs. The pipeline keeps the
  // kernel's name under either, so that the profiler reports one line per kernel.
  const perRow = rec.gpu.kernels === 'direct';
  rec.dispatch({
    label,
    pipeline: { name, code, entryPoint: perRow ? `${entryPoint}_rows` : entryPoint, storage: bindings.map(([access]) => access) },
    uniform: new UniformWriter(8).u32(M).u32(d).bool(accumulate).u32(0).f32(eps).buffer,
    buffers: bindings.map(([, buffer]) => buffer),
    workgroups: grid1d(M, perRow ? ROWS : 1, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** y = (x − mean)·rstd·weight + bias per row; stats[m] = (mean, rstd). */
export function encodeLayerNorm(rec: CommandRecorder, args: LayerNormArgs): void {
  const kernel = 'layer_norm';
  const [M, d] = rowsOf(kernel, args.x);
  expectShape(kernel, 'weight', args.weight, [d], '[d]');
  expectShape(kernel, 'bias', args.bias, [d], '[d]');
  expectShape(kernel, 'y', args.y, [M, d], '[M, d]');
  expectShape(kernel, 'stats', args.stats, [M, 2], '[M, 2]');
  checkEps(kernel, args.eps);
  expectDistinctBuffers(kernel, { y: args.y, stats: args.stats }, { x: args.x, weight: args.weight, bias: args.bias });
  dispatchRows(rec, `${kernel}(${args.y.name})`, kernel, layerNormWgsl, 'forward', M, d, false, args.eps, [
    ['read', args.x.buffer], ['read', args.weight.buffer], ['read', args.bias.buffer], ['write', args.y.buffer], ['write', args.stats.buffer],
  ]);
}

/** dx (+)= rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·weight. */
export function encodeLayerNormBackward(rec: CommandRecorder, args: LayerNormBackwardArgs): void {
  const kernel = 'layer_norm backward';
  const [M, d] = rowsOf(kernel, args.x);
  expectShape(kernel, 'dy', args.dy, [M, d], '[M, d]');
  expectShape(kernel, 'weight', args.weight, [d], '[d]');
  expectShape(kernel, 'stats', args.stats, [M, 2], '[M, 2]');
  expectShape(kernel, 'dx', args.dx, [M, d], '[M, d]');
  expectDistinctBuffers(kernel, { dx: args.dx }, { dy: args.dy, x: args.x, weight: args.weight, stats: args.stats });
  dispatchRows(rec, `${kernel}(${args.dx.name})`, 'layer_norm', layerNormWgsl, 'backward', M, d, Boolean(args.accumulate), 0, [
    ['read', args.x.buffer], ['read', args.weight.buffer], ['read', args.dy.buffer], ['write', args.dx.buffer], ['read', args.stats.buffer],
  ]);
}

/** y = x·rstd·weight per row, rstd = 1/√(mean(x²) + eps). */
export function encodeRmsNorm(rec: CommandRecorder, args: RmsNormArgs): void {
  const kernel = 'rms_norm';
  const [M, d] = rowsOf(kernel, args.x);
  expectShape(kernel, 'weight', args.weight, [d], '[d]');
  expectShape(kernel, 'y', args.y, [M, d], '[M, d]');
  expectShape(kernel, 'rstd', args.rstd, [M], '[M]');
  checkEps(kernel, args.eps);
  expectDistinctBuffers(kernel, { y: args.y, rstd: args.rstd }, { x: args.x, weight: args.weight });
  dispatchRows(rec, `${kernel}(${args.y.name})`, kernel, rmsNormWgsl, 'forward', M, d, false, args.eps, [
    ['read', args.x.buffer], ['read', args.weight.buffer], ['write', args.y.buffer], ['write', args.rstd.buffer],
  ]);
}

/** dx (+)= rstd·g − x·rstd³·mean(g·x), g = dy·weight. */
export function encodeRmsNormBackward(rec: CommandRecorder, args: RmsNormBackwardArgs): void {
  const kernel = 'rms_norm backward';
  const [M, d] = rowsOf(kernel, args.x);
  expectShape(kernel, 'dy', args.dy, [M, d], '[M, d]');
  expectShape(kernel, 'weight', args.weight, [d], '[d]');
  expectShape(kernel, 'rstd', args.rstd, [M], '[M]');
  expectShape(kernel, 'dx', args.dx, [M, d], '[M, d]');
  expectDistinctBuffers(kernel, { dx: args.dx }, { dy: args.dy, x: args.x, weight: args.weight, rstd: args.rstd });
  dispatchRows(rec, `${kernel}(${args.dx.name})`, 'rms_norm', rmsNormWgsl, 'backward', M, d, Boolean(args.accumulate), 0, [
    ['read', args.x.buffer], ['read', args.weight.buffer], ['read', args.dy.buffer], ['read', args.rstd.buffer], ['write', args.dx.buffer],
  ]);
}
