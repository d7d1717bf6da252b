/**
 * Wrappers of DoRA's kernels (PEFT tuners/lora/dora.py), composed with the engine's linear kernels in
 * methods/lora/gpu.ts:
 * - `encodeDoraNorm`: norm[n] = ‖W0[n, :] + s·B[n, :]·A‖ and g[n] = m[n] / norm[n], one workgroup per output
 *   feature, W0 decoded from its packed format (f32, q8, q4, nf4; nn.Linear or Conv1D layout)   — dora_norm.wgsl
 * - `encodeDoraScale`: out (+)= a ⊙ (g − shift) (+ bias), g [N] broadcast over the rows          — dora_elementwise.wgsl
 * - `encodeDoraMagnitudeTerm`: out (+)= a ⊙ b / norm (summed over the rows: m's gradient)         — dora_elementwise.wgsl
 * - `encodeDoraDropout`: out (+)= a ⊙ dropout mask (LoRA's mask: element i of an [M, K] input)      — dora_elementwise.wgsl
 * Float64 references: reference/dora.ts.
 */
import { UniformWriter } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d, placeholderBuffer } from './dispatch';
import { weightGeometry, type GpuWeight } from './gpu-weight';
import { NO_DROPOUT, type DropoutSpec } from './linear';
import { elementCount, expectShape, formatShape, type GpuTensor } from './tensor';
import { FORMAT_SPECS, LAYOUT_CODES } from './weight-format';
import weightDecodeWgsl from './weight_decode.wgsl?raw';
import dropoutMaskWgsl from './dropout_mask.wgsl?raw';
import doraNormWgsl from './dora_norm.wgsl?raw';
import doraElementwiseWgsl from './dora_elementwise.wgsl?raw';

export interface DoraNormArgs {
  w0: GpuWeight; // logical [N, K]
  a: GpuTensor; // lora_A [r, K]
  b: GpuTensor; // lora_B [N, r]
  /** lora_magnitude_vector [N]. */
  m: GpuTensor;
  /** The LoRA scaling s. */
  scale: number;
  norm: GpuTensor; // [N]
  g: GpuTensor; // [N]
}

export function encodeDoraNorm(rec: CommandRecorder, args: DoraNormArgs): void {
  const { w0, a, b } = args;
  const kernel = `dora_norm(${w0.name})`;
  const N = w0.outFeatures;
  const K = w0.inFeatures;
  const r = a.shape[0] ?? 0;
  if (a.shape.length !== 2 || r <= 0) throw new ShapeError(`${kernel}: tensor "${a.name}" (lora_A) must be [r, ${K}], got ${formatShape(a.shape)}`);
  expectShape(kernel, 'lora_A', a, [r, K], '[r, K]');
  expectShape(kernel, 'lora_B', b, [N, r], '[N, r]');
  for (const [role, t] of [['m', args.m], ['norm', args.norm], ['g', args.g]] as const) {
    if (elementCount(t.shape) !== N) throw new ShapeError(`${kernel}: tensor "${t.name}" (${role}) has shape ${formatShape(t.shape)}, expected ${N} values (one per output feature)`);
  }
  if (args.norm.buffer === args.g.buffer || args.m.buffer === args.norm.buffer || args.m.buffer === args.g.buffer) {
    throw new ShapeError(`${kernel}: m, norm and g must be three different buffers`);
  }
  if (!Number.isFinite(args.scale)) throw new ShapeError(`${kernel}: scaling must be finite, got ${args.scale}`);
  const geo = weightGeometry(w0);
  rec.dispatch({
    label: kernel,
    pipeline: {
      name: 'dora_norm',
      code: weightDecodeWgsl + doraNormWgsl,
      constants: { FORMAT: FORMAT_SPECS[w0.format].code, LAYOUT: LAYOUT_CODES[w0.layout] },
      storage: ['read', 'read', 'read', 'read', 'read', 'write', 'write'],
    },
    uniform: new UniformWriter(8).u32(N).u32(K).u32(r).u32(geo.wordsPerRow).u32(geo.groupsPerRow).f32(args.scale).u32(0).u32(0).buffer,
    buffers: [w0.words, w0.scales, a.buffer, b.buffer, args.m.buffer, args.norm.buffer, args.g.buffer],
    workgroups: grid1d(N, 1, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}

function matrixShape(kernel: string, role: string, t: GpuTensor): [number, number] {
  if (t.shape.length !== 2) throw new ShapeError(`${kernel}: tensor "${t.name}" (${role}) must be 2-D [M, N], got ${formatShape(t.shape)}`);
  return [t.shape[0], t.shape[1]];
}

function elementwise(
  rec: CommandRecorder,
  label: string,
  mode: 0 | 1 | 2,
  a: GpuTensor,
  v: GPUBuffer,
  c: GPUBuffer,
  out: GpuTensor,
  u: { N: number; accumulate: boolean; hasBias: boolean; shift: number; dropout: DropoutSpec },
): void {
  if (out.buffer === a.buffer) throw new ShapeError(`${label}: out must not be the input (the kernel reads it while writing out)`);
  const len = elementCount(a.shape);
  rec.dispatch({
    label,
    pipeline: { name: 'dora_elementwise', code: dropoutMaskWgsl + doraElementwiseWgsl, constants: { MODE: mode }, storage: ['read', 'read', 'read', 'write'] },
    uniform: new UniformWriter(8).u32(len).u32(u.N).bool(u.accumulate).bool(u.hasBias).f32(u.shift).u32(u.dropout.seed >>> 0).f32(u.dropout.p).u32(0).buffer,
    buffers: [a.buffer, v, c, out.buffer],
    workgroups: grid1d(len, 64, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}

export interface DoraScaleArgs {
  x: GpuTensor; // [M, N]
  /** The DoRA factor g = m / norm [N]. */
  g: GpuTensor;
  /** Subtracted from g: 0 (x ⊙ g) or 1 (x ⊙ (g − 1)). */
  shift: 0 | 1;
  bias?: GpuTensor | null; // [N]
  out: GpuTensor; // [M, N]
  accumulate?: boolean;
}

/** out[m, n] (+)= x[m, n]·(g[n] − shift) (+ bias[n]). */
export function encodeDoraScale(rec: CommandRecorder, args: DoraScaleArgs): void {
  const kernel = `dora_scale(${args.out.name} = ${args.x.name} ⊙ (g − ${args.shift}))`;
  const [M, N] = matrixShape(kernel, 'x', args.x);
  if (elementCount(args.g.shape) !== N) throw new ShapeError(`${kernel}: tensor "${args.g.name}" (g) has shape ${formatShape(args.g.shape)}, expected ${N} values`);
  if (args.bias) expectShape(kernel, 'bias', args.bias, [N], '[N]');
  expectShape(kernel, 'out', args.out, [M, N], '[M, N]');
  const absent = placeholderBuffer(rec.gpu.device);
  elementwise(rec, kernel, 0, args.x, args.g.buffer, args.bias?.buffer ?? absent, args.out, {
    N, accumulate: Boolean(args.accumulate), hasBias: Boolean(args.bias), shift: args.shift, dropout: NO_DROPOUT,
  });
}

/** out (+)= a ⊙ b / norm, a and b [M, N], norm [N]. */
export function encodeDoraMagnitudeTerm(rec: CommandRecorder, args: { a: GpuTensor; b: GpuTensor; norm: GpuTensor; out: GpuTensor; accumulate?: boolean }): void {
  const kernel = `dora_magnitude_term(${args.out.name} = ${args.a.name} ⊙ ${args.b.name} / norm)`;
  const [M, N] = matrixShape(kernel, 'a', args.a);
  expectShape(kernel, 'b', args.b, [M, N], '[M, N]');
  if (elementCount(args.norm.shape) !== N) throw new ShapeError(`${kernel}: tensor "${args.norm.name}" (norm) has shape ${formatShape(args.norm.shape)}, expected ${N} values`);
  expectShape(kernel, 'out', args.out, [M, N], '[M, N]');
  if (args.out.buffer === args.b.buffer) throw new ShapeError(`${kernel}: out must not be b`);
  elementwise(rec, kernel, 1, args.a, args.norm.buffer, args.b.buffer, args.out, { N, accumulate: Boolean(args.accumulate), hasBias: false, shift: 0, dropout: NO_DROPOUT });
}

/** out (+)= x ⊙ mask, the LoRA dropout mask of element i = m·K + k. */
export function encodeDoraDropout(rec: CommandRecorder, args: { x: GpuTensor; dropout: DropoutSpec; out: GpuTensor; accumulate?: boolean }): void {
  const kernel = `dora_dropout(${args.out.name} = dropout(${args.x.name}))`;
  const [M, K] = matrixShape(kernel, 'x', args.x);
  expectShape(kernel, 'out', args.out, [M, K], '[M, K]');
  if (!(args.dropout.p >= 0 && args.dropout.p < 1)) throw new ShapeError(`${kernel}: dropout must be in [0, 1), got ${args.dropout.p}`);
  const absent = placeholderBuffer(rec.gpu.device);
  elementwise(rec, kernel, 2, args.x, absent, absent, args.out, { N: K, accumulate: Boolean(args.accumulate), hasBias: false, shift: 0, dropout: args.dropout });
}
