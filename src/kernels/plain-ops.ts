/**
 * Plain kernels: the naive matmul and the element-wise steps. They are the baselines the tiled and fused
 * kernels are measured against, and the pieces of the unfused LoRA path (bench/lora-linear-unfused.ts).
 */
import { UniformWriter } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d, placeholderBuffer } from './dispatch';
import { NO_DROPOUT, type DropoutSpec } from './linear';
import { elementCount, expectShape, formatShape, type GpuTensor } from './tensor';
import dropoutMaskWgsl from './dropout_mask.wgsl?raw';
import matmulNaiveWgsl from './matmul_naive.wgsl?raw';
import elementwiseWgsl from './elementwise.wgsl?raw';

export interface NaiveMatmulArgs {
  a: GpuTensor; // [M, K], or [K, M] with transA
  b: GpuTensor; // [K, N], or [N, K] with transB
  c: GpuTensor; // [M, N]
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  accumulate?: boolean;
}

/** c = alpha·op(a)·op(b) (+ c), one thread per output. */
export function encodeNaiveMatmul(rec: CommandRecorder, args: NaiveMatmulArgs): void {
  const kernel = 'matmul_naive';
  const { a, b, c } = args;
  for (const [role, t] of [['a', a], ['b', b], ['c', c]] as const) {
    if (t.shape.length !== 2) throw new ShapeError(`${kernel}: tensor "${t.name}" (${role}) must be 2-D, got ${formatShape(t.shape)}`);
  }
  const [M, K] = args.transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const N = args.transB ? b.shape[0] : b.shape[1];
  expectShape(kernel, 'b', b, args.transB ? [N, K] : [K, N], args.transB ? '[N, K]' : '[K, N]');
  expectShape(kernel, 'c', c, [M, N], '[M, N]');
  rec.dispatch({
    label: `${kernel}(${c.name})`,
    pipeline: { name: kernel, code: matmulNaiveWgsl, storage: ['read', 'read', 'write'] },
    uniform: new UniformWriter(12)
      .u32(M).u32(N).u32(K).bool(Boolean(args.transA))
      .bool(Boolean(args.transB)).bool(Boolean(args.accumulate)).u32(0).u32(0)
      .f32(args.alpha ?? 1).buffer,
    buffers: [a.buffer, b.buffer, c.buffer],
    workgroups: [Math.ceil(N / 8), Math.ceil(M / 8)],
  });
}

export interface ElementwiseArgs {
  a: GpuTensor;
  /** With b: out = a + alpha·(mask ⊙ b). Without: out = mask ⊙ a. */
  b?: GpuTensor | null;
  alpha?: number;
  /** Added along the last dimension. */
  bias?: GpuTensor | null;
  dropout?: DropoutSpec;
  out: GpuTensor;
}

export function encodeElementwise(rec: CommandRecorder, args: ElementwiseArgs): void {
  const kernel = 'elementwise';
  const shape = args.a.shape;
  const dims = formatShape(shape);
  expectShape(kernel, 'out', args.out, shape, dims);
  if (args.b) expectShape(kernel, 'b', args.b, shape, dims);
  const N = shape[shape.length - 1] ?? 1;
  if (args.bias) expectShape(kernel, 'bias', args.bias, [N], '[N]');
  const len = elementCount(shape);
  const dropout = args.dropout ?? NO_DROPOUT;
  const absent = placeholderBuffer(rec.gpu.device);
  rec.dispatch({
    label: `${kernel}(${args.out.name})`,
    pipeline: { name: kernel, code: dropoutMaskWgsl + elementwiseWgsl, storage: ['read', 'read', 'read', 'write'] },
    uniform: new UniformWriter(12)
      .u32(len).u32(N).bool(Boolean(args.b)).bool(Boolean(args.bias))
      .u32(dropout.seed >>> 0).u32(0).u32(0).u32(0)
      .f32(args.alpha ?? 1).f32(dropout.p).buffer,
    buffers: [args.a.buffer, args.b?.buffer ?? absent, args.bias?.buffer ?? absent, args.out.buffer],
    workgroups: grid1d(len, 64, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}
