/**
 * Wrappers of the W0-decoding linear kernels:
 * - `encodeLinearForward`: y = x·W0ᵀ (+ bias) (+ scale·xa·Bᵀ)       — linear_forward(_direct).wgsl
 * - `encodeLinearBackwardInput`: dx = dy·W0 (+ mask ⊙ scale·g·A)     — linear_backward_input(_direct).wgsl
 * Without the LoRA terms they are the plain matmuls x·Wᵀ and dy·W that training needs.
 *
 * Each has two kernels with the same bindings and uniforms, chosen by the device's kernel profile
 * (gpu/device.ts): the tiled kernel for 'tiled' (64×64 outputs per workgroup), the direct one for 'direct' (CPU
 * drivers: no workgroup memory, no barriers, 32×8 outputs per thread in the forward, 16×8 in the backward).
 */
import { ShapeError } from '../gpu/errors';
import { UniformWriter } from '../gpu/buffers';
import type { PipelineSpec } from '../gpu/pipeline-cache';
import { CommandRecorder, placeholderBuffer } from './dispatch';
import { weightGeometry, type GpuWeight } from './gpu-weight';
import { expectShape, type GpuTensor } from './tensor';
import { FORMAT_SPECS, LAYOUT_CODES } from './weight-format';
import weightDecodeWgsl from './weight_decode.wgsl?raw';
import dropoutMaskWgsl from './dropout_mask.wgsl?raw';
import linearForwardIoWgsl from './linear_forward_io.wgsl?raw';
import linearForwardWgsl from './linear_forward.wgsl?raw';
import linearBackwardInputIoWgsl from './linear_backward_input_io.wgsl?raw';
import linearBackwardInputWgsl from './linear_backward_input.wgsl?raw';
import linearForwardDirectWgsl from './linear_forward_direct.wgsl?raw';
import linearBackwardInputDirectWgsl from './linear_backward_input_direct.wgsl?raw';

/** Rows and columns of the output block one workgroup computes (see the .wgsl files). */
export const LINEAR_TILE = 64;

export interface DropoutSpec {
  /** lora_dropout probability, in [0, 1). */
  p: number;
  /** Seed of the mask; the forward and backward of one step must use the same one. */
  seed: number;
}

export const NO_DROPOUT: DropoutSpec = { p: 0, seed: 0 };

function weightPipeline(name: string, code: string, w: GpuWeight, storage: ('read' | 'write')[], extra: Record<string, number> = {}): PipelineSpec {
  return { name, code, constants: { FORMAT: FORMAT_SPECS[w.format].code, LAYOUT: LAYOUT_CODES[w.layout], ...extra }, storage };
}

/** Columns one thread of a direct kernel owns. */
const DIRECT_COLUMNS = 8;

/**
 * Rows one thread of a direct kernel owns, for M rows: 8 when M ≤ 8 (generation), where more would be computed for
 * nothing; otherwise 32 in the forward (each decoded weight feeds 32 rows, which keeps nf4's code-book lookups,
 * a gather per value on a CPU driver, within a few per cent of the f32 time) and 16 in the backward to the
 * input (its 32-row variant would take three times as long to compile, about 6 s on SwiftShader).
 */
export function directRows(M: number, kernel: 'forward' | 'backward'): number {
  if (M <= 8) return 8;
  return kernel === 'forward' ? 32 : 16;
}

/**
 * Rows per thread of the interim direct kernels: a quarter to a third of the compile time of the full ones
 * (SwiftShader: 0.9 s rather than 2.7 s for the forward, 0.6 s rather than 1.9 s for the backward), and 10–20 %
 * slower. Each output's sum runs in the same order whatever the rows per thread, so both give the same values bit
 * for bit; a run's first step uses them while the full ones compile in the background (PipelineCache.tiered).
 */
export const INTERIM_ROWS: Record<'forward' | 'backward', number> = { forward: 16, backward: 8 };

/**
 * Threads per workgroup of a direct kernel (8 columns each) for `columns` output columns: the largest of 64, 32,
 * 16, 8 that leaves the fewest idle columns in the last workgroup (768 columns: 32 threads, 3 workgroups).
 */
export function directWorkgroupSize(columns: number): number {
  let best = 64;
  let bestWaste = Infinity;
  for (const wg of [64, 32, 16, 8]) {
    const span = wg * DIRECT_COLUMNS;
    const waste = Math.ceil(columns / span) * span - columns;
    if (waste < bestWaste) {
      best = wg;
      bestWaste = waste;
    }
  }
  return best;
}

/** Pipeline and grid of a matmul over M rows and `columns` output columns, for the device's kernel profile. */
function matmulDispatch(
  rec: CommandRecorder,
  w: GpuWeight,
  M: number,
  columns: number,
  tiled: { name: string; code: string },
  direct: { name: string; code: string; maskTail: boolean; kernel: 'forward' | 'backward' },
  storage: ('read' | 'write')[],
): { pipeline: PipelineSpec; workgroups: [number, number] } {
  if (rec.gpu.kernels === 'direct') {
    const wg = directWorkgroupSize(columns);
    const variant = (rows: number) => weightPipeline(direct.name, direct.code, w, storage, { WG: wg, ROWS: rows, MASK_TAIL: direct.maskTail ? 1 : 0 });
    const rows = directRows(M, direct.kernel);
    const interimRows = INTERIM_ROWS[direct.kernel];
    const pipeline = rows > interimRows ? rec.gpu.pipelines.tiered(variant(rows), variant(interimRows)) : variant(rows);
    return {
      pipeline,
      workgroups: [Math.ceil(columns / (wg * DIRECT_COLUMNS)), Math.ceil(M / pipeline.constants!.ROWS)],
    };
  }
  return {
    pipeline: weightPipeline(tiled.name, tiled.code, w, storage),
    workgroups: [Math.ceil(columns / LINEAR_TILE), Math.ceil(M / LINEAR_TILE)],
  };
}

export interface LinearForwardArgs {
  x: GpuTensor; // [M, K]
  w0: GpuWeight; // logical [N, K]
  bias?: GpuTensor | null; // [N]
  /** The LoRA term: xa = dropout(x)·Aᵀ [M, r] (from encodeLoraDown) and B [N, r]. */
  lora?: { xa: GpuTensor; b: GpuTensor; scale: number } | null;
  y: GpuTensor; // [M, N]
  /** Add to what y holds instead of overwriting it (residual streams). */
  accumulate?: boolean;
}

export function encodeLinearForward(rec: CommandRecorder, args: LinearForwardArgs): void {
  const kernel = `linear_forward(${args.w0.name})`;
  const { x, w0, y } = args;
  if (x.shape.length !== 2) throw new ShapeError(`${kernel}: tensor "${x.name}" (x) must be 2-D [M, K], got [${x.shape.join(', ')}]`);
  const M = x.shape[0];
  const K = w0.inFeatures;
  const N = w0.outFeatures;
  expectShape(kernel, 'x', x, [M, K], '[M, K]');
  expectShape(kernel, 'y', y, [M, N], '[M, N]');
  if (args.bias) expectShape(kernel, 'bias', args.bias, [N], '[N]');
  const r = args.lora ? args.lora.b.shape[1] ?? 0 : 0;
  if (args.lora) {
    expectShape(kernel, 'lora_B', args.lora.b, [N, r], '[N, r]');
    expectShape(kernel, 'xa', args.lora.xa, [M, r], '[M, r]');
  }
  const geo = weightGeometry(w0);
  const absent = placeholderBuffer(rec.gpu.device);
  const uniform = new UniformWriter(12)
    .u32(M).u32(N).u32(K).u32(r)
    .u32(geo.wordsPerRow).u32(geo.groupsPerRow).bool(Boolean(args.bias)).bool(Boolean(args.accumulate))
    .f32(args.lora?.scale ?? 0).u32(0).u32(0).u32(0).buffer;
  rec.dispatch({
    label: kernel,
    ...matmulDispatch(
      rec, w0, M, N,
      { name: 'linear_forward', code: weightDecodeWgsl + linearForwardIoWgsl + linearForwardWgsl },
      // The contraction runs in steps of 8 along K; quantized rows are zero-padded past K.
      { name: 'linear_forward_direct', code: weightDecodeWgsl + linearForwardIoWgsl + linearForwardDirectWgsl, maskTail: w0.format === 'f32' && K % 8 !== 0, kernel: 'forward' },
      ['read', 'read', 'read', 'read', 'read', 'read', 'write'],
    ),
    uniform,
    buffers: [x.buffer, w0.words, w0.scales, args.bias?.buffer ?? absent, args.lora?.xa.buffer ?? absent, args.lora?.b.buffer ?? absent, y.buffer],
  });
}

export interface LinearBackwardInputArgs {
  dy: GpuTensor; // [M, N]
  w0: GpuWeight; // logical [N, K]
  /** The LoRA term: g = dy·B [M, r] (from encodeLoraDown) and A [r, K], with the forward's dropout. */
  lora?: { g: GpuTensor; a: GpuTensor; scale: number; dropout: DropoutSpec } | null;
  dx: GpuTensor; // [M, K]
  accumulate?: boolean;
}

export function encodeLinearBackwardInput(rec: CommandRecorder, args: LinearBackwardInputArgs): void {
  const kernel = `linear_backward_input(${args.w0.name})`;
  const { dy, w0, dx } = args;
  if (dy.shape.length !== 2) throw new ShapeError(`${kernel}: tensor "${dy.name}" (dy) must be 2-D [M, N], got [${dy.shape.join(', ')}]`);
  const M = dy.shape[0];
  const K = w0.inFeatures;
  const N = w0.outFeatures;
  expectShape(kernel, 'dy', dy, [M, N], '[M, N]');
  expectShape(kernel, 'dx', dx, [M, K], '[M, K]');
  const r = args.lora ? args.lora.a.shape[0] ?? 0 : 0;
  if (args.lora) {
    expectShape(kernel, 'lora_A', args.lora.a, [r, K], '[r, K]');
    expectShape(kernel, 'g', args.lora.g, [M, r], '[M, r]');
  }
  const geo = weightGeometry(w0);
  const absent = placeholderBuffer(rec.gpu.device);
  const dropout = args.lora?.dropout ?? NO_DROPOUT;
  const uniform = new UniformWriter(12)
    .u32(M).u32(N).u32(K).u32(r)
    .u32(geo.wordsPerRow).u32(geo.groupsPerRow).bool(Boolean(args.accumulate)).u32(dropout.seed >>> 0)
    .f32(args.lora?.scale ?? 0).f32(dropout.p).u32(0).u32(0).buffer;
  rec.dispatch({
    label: kernel,
    ...matmulDispatch(
      rec, w0, M, K,
      { name: 'linear_backward_input', code: weightDecodeWgsl + dropoutMaskWgsl + linearBackwardInputIoWgsl + linearBackwardInputWgsl },
      // The contraction runs in steps of 4 along N.
      { name: 'linear_backward_input_direct', code: weightDecodeWgsl + dropoutMaskWgsl + linearBackwardInputIoWgsl + linearBackwardInputDirectWgsl, maskTail: N % 4 !== 0, kernel: 'backward' },
      ['read', 'read', 'read', 'read', 'read', 'write'],
    ),
    uniform,
    buffers: [dy.buffer, w0.words, w0.scales, args.lora?.g.buffer ?? absent, args.lora?.a.buffer ?? absent, dx.buffer],
  });
}
