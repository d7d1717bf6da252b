/**
 * Wrappers of IA³'s element-wise kernel (ia3_scale.wgsl):
 * - `encodeIa3Scale`: out (+)= x ⊙ (1 + alpha·(l − 1)), l [N] broadcast over the rows of x [M, N] — the scaling of a
 *   layer's output (l [out]) or input (l [in]), and the same product in the backward (dy ⊙ l, g ⊙ l);
 * - `encodeProduct`: out (+)= a ⊙ b for two [M, N] matrices — the terms dy ⊙ z and x ⊙ g whose sum over the rows
 *   (against PassContext.ones, kernels/lora-rank.ts) is ia3_l's gradient.
 * Their float64 references are in reference/ia3.ts.
 */
import { UniformWriter } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d } from './dispatch';
import { elementCount, expectShape, formatShape, type GpuTensor } from './tensor';
import ia3ScaleWgsl from './ia3_scale.wgsl?raw';

function matrixShape(kernel: string, role: string, t: GpuTensor): [number, number] {
  if (t.shape.length !== 2) throw new ShapeError(`${kernel}: tensor "${t.name}" (${role}) must be 2-D [M, N], got ${formatShape(t.shape)}`);
  return [t.shape[0], t.shape[1]];
}

function dispatch(rec: CommandRecorder, label: string, mode: 0 | 1, a: GpuTensor, v: GpuTensor, out: GpuTensor, N: number, alpha: number, accumulate: boolean): void {
  const len = elementCount(a.shape);
  rec.dispatch({
    label,
    pipeline: { name: 'ia3_scale', code: ia3ScaleWgsl, constants: { MODE: mode }, storage: ['read', 'read', 'write'] },
    uniform: new UniformWriter(8).u32(len).u32(N).bool(accumulate).u32(0).f32(alpha).buffer,
    buffers: [a.buffer, v.buffer, out.buffer],
    workgroups: grid1d(len, 64, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}

export interface Ia3ScaleArgs {
  x: GpuTensor; // [M, N]
  /** ia3_l with N values ([N, 1] or [1, N] as PEFT stores it). */
  l: GpuTensor;
  /** The pass's adapter scale: the factor is 1 + alpha·(l − 1) (1: l itself). */
  alpha?: number;
  out: GpuTensor; // [M, N], not x
  accumulate?: boolean;
}

/** out[m, n] (+)= x[m, n]·(1 + alpha·(l[n] − 1)). */
export function encodeIa3Scale(rec: CommandRecorder, args: Ia3ScaleArgs): void {
  const kernel = `ia3_scale(${args.out.name} = ${args.x.name} ⊙ ${args.l.name})`;
  const [M, N] = matrixShape(kernel, 'x', args.x);
  if (elementCount(args.l.shape) !== N) throw new ShapeError(`${kernel}: tensor "${args.l.name}" (l) has shape ${formatShape(args.l.shape)}, expected ${N} values (one per column of x)`);
  expectShape(kernel, 'out', args.out, [M, N], '[M, N]');
  if (args.out.buffer === args.x.buffer) throw new ShapeError(`${kernel}: out must not be x (the kernel reads x while writing out)`);
  dispatch(rec, kernel, 0, args.x, args.l, args.out, N, args.alpha ?? 1, Boolean(args.accumulate));
}

/** out (+)= a ⊙ b, all [M, N]. */
export function encodeProduct(rec: CommandRecorder, args: { a: GpuTensor; b: GpuTensor; out: GpuTensor; accumulate?: boolean }): void {
  const kernel = `ia3_scale(${args.out.name} = ${args.a.name} ⊙ ${args.b.name})`;
  const [M, N] = matrixShape(kernel, 'a', args.a);
  expectShape(kernel, 'b', args.b, [M, N], '[M, N]');
  expectShape(kernel, 'out', args.out, [M, N], '[M, N]');
  dispatch(rec, kernel, 1, args.a, args.b, args.out, N, 1, Boolean(args.accumulate));
}
