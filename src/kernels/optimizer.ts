/**
 * Optimizer kernels of the LoRA parameters:
 * - `encodeAdamW`: one in-place AdamW step (torch.optim.AdamW) of a parameter and its moments    — adamw.wgsl
 * - `encodeSquaredNorms`: Σ g² of each gradient, a split reduction without float atomics   — squared_norm.wgsl
 * - `clipFactor`, `isFiniteNorm`: the host side of global-norm clipping (torch.nn.utils.clip_grad_norm_)
 *
 * A training step reads the squared norms back, computes the clipping factor on the host and passes it to
 * every `encodeAdamW` as `gradScale`.
 */
import { UniformWriter } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d } from './dispatch';
import { adamWScalars, validateAdamWHyper, type AdamWHyper } from './reference/optimizer';
import { elementCount, expectShape, formatShape, type GpuTensor } from './tensor';
import adamwWgsl from './adamw.wgsl?raw';
import squaredNormWgsl from './squared_norm.wgsl?raw';

export type { AdamWHyper } from './reference/optimizer';

export interface AdamWArgs extends AdamWHyper {
  /** Updated in place. Any shape; grad, m and v must have the same. */
  param: GpuTensor;
  grad: GpuTensor;
  /** First moment (exp_avg), updated in place; zeros before step 1. */
  m: GpuTensor;
  /** Second moment (exp_avg_sq), updated in place; zeros before step 1. */
  v: GpuTensor;
}

/**
 * Encodes one AdamW step: p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 * p ← p − (lr/bc1)·m/(√v/√bc2 + eps), with g = gradScale·grad and bc_i = 1 − β_i^step. `step` is 1-based;
 * the bias corrections are computed here in float64. Throws RangeError for a hyper-parameter out of range and
 * ShapeError for mismatched or aliased tensors.
 */
export function encodeAdamW(rec: CommandRecorder, args: AdamWArgs): void {
  const kernel = 'adamw';
  validateAdamWHyper(kernel, args);
  const shape = args.param.shape;
  expectShape(kernel, 'param', args.param, shape, formatShape(shape));
  expectShape(kernel, 'grad', args.grad, shape, `param's shape`);
  expectShape(kernel, 'm', args.m, shape, `param's shape`);
  expectShape(kernel, 'v', args.v, shape, `param's shape`);
  const roles = [['param', args.param], ['grad', args.grad], ['m', args.m], ['v', args.v]] as const;
  for (let i = 0; i < roles.length; i++) {
    for (let j = i + 1; j < roles.length; j++) {
      if (roles[i][1].buffer === roles[j][1].buffer) {
        throw new ShapeError(`${kernel}: ${roles[i][0]} "${roles[i][1].name}" and ${roles[j][0]} "${roles[j][1].name}" share one buffer`);
      }
    }
  }
  const n = elementCount(shape);
  if (n === 0) return;
  const s = adamWScalars(args);
  rec.dispatch({
    label: `adamw(${args.param.name}, step ${args.step})`,
    pipeline: { name: 'adamw', code: adamwWgsl, storage: ['write', 'read', 'write', 'write'] },
    uniform: new UniformWriter(16)
      .u32(n).u32(0).u32(0).u32(0)
      .f32(s.decay).f32(args.beta1).f32(s.oneMinusBeta1).f32(args.beta2)
      .f32(s.oneMinusBeta2).f32(s.stepSize).f32(s.bc2Sqrt).f32(args.eps)
      .f32(args.gradScale ?? 1).u32(0).u32(0).u32(0).buffer,
    buffers: [args.param.buffer, args.grad.buffer, args.m.buffer, args.v.buffer],
    workgroups: grid1d(n, 256, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** Threads of one squared-norm workgroup (WG in squared_norm.wgsl). */
const NORM_WG = 256;
/** Elements each thread sums on its own before a tensor is split over more workgroups. */
const NORM_MIN_PER_THREAD = 64;
/** Most partial sums per tensor: the finishing workgroup reduces one per thread. */
const NORM_MAX_PARTIALS = NORM_WG;

/** Workgroups (partial sums) the first pass uses for a tensor of `n` elements. */
export function squaredNormPartials(n: number): number {
  return Math.min(NORM_MAX_PARTIALS, Math.max(1, Math.ceil(n / (NORM_WG * NORM_MIN_PER_THREAD))));
}

/**
 * out[t] = Σ tensors[t]², accumulated in f32. 'tiled' profile: each thread sums a grid-strided slice, a workgroup
 * tree-reduces its threads into a partial sum, and one more dispatch tree-reduces each tensor's partial sums (one
 * dispatch per tensor, plus one). 'direct' profile (CPU drivers): one thread per tensor sums it whole, one
 * dispatch per tensor. `out` is an f32 tensor of shape [tensors.length].
 */
export function encodeSquaredNorms(rec: CommandRecorder, args: { tensors: GpuTensor[]; out: GpuTensor }): void {
  const kernel = 'squared_norm';
  const T = args.tensors.length;
  if (T === 0) throw new ShapeError(`${kernel}: needs at least one tensor`);
  expectShape(kernel, 'out', args.out, [T], '[tensors.length]');
  const counts = args.tensors.map((t) => {
    const n = elementCount(t.shape);
    expectShape(kernel, 'input', t, t.shape, formatShape(t.shape));
    if (t.buffer === args.out.buffer) throw new ShapeError(`${kernel}: tensor "${t.name}" shares its buffer with out "${args.out.name}"`);
    return n;
  });
  const pipeline = (entryPoint: string) => ({ name: kernel, code: squaredNormWgsl, entryPoint, storage: ['read', 'write'] as const });
  if (rec.gpu.kernels === 'direct') {
    args.tensors.forEach((t, i) => {
      rec.dispatch({
        label: `${kernel}(${t.name})`,
        pipeline: pipeline('whole'),
        uniform: new UniformWriter(4).u32(counts[i]).u32(i).u32(1).u32(0).buffer,
        buffers: [t.buffer, args.out.buffer],
        workgroups: [1],
      });
    });
    return;
  }
  const P = Math.max(...counts.map(squaredNormPartials));
  // A fresh scratch buffer is zero-filled, so the slots of tensors with fewer than P partial sums read 0.
  const partials = rec.scratch(T * P * 4, `${kernel} partial sums`);
  args.tensors.forEach((t, i) => {
    rec.dispatch({
      label: `${kernel}(${t.name})`,
      pipeline: pipeline('partials'),
      uniform: new UniformWriter(4).u32(counts[i]).u32(i * P).u32(P).u32(0).buffer,
      buffers: [t.buffer, partials],
      workgroups: [squaredNormPartials(counts[i])],
    });
  });
  rec.dispatch({
    label: `${kernel} (reduce ${P} partial sums of ${T} tensors)`,
    pipeline: pipeline('finish'),
    uniform: new UniformWriter(4).u32(T).u32(0).u32(P).u32(0).buffer,
    buffers: [partials, args.out.buffer],
    workgroups: grid1d(T, 1, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}

/**
 * The global gradient norm and the factor to scale every gradient by, as torch.nn.utils.clip_grad_norm_:
 * norm = √Σ squaredNorms (float64), factor = min(1, maxNorm / (norm + 1e-6)). `maxNorm` ≤ 0 or +Infinity
 * disables clipping (factor 1). A non-finite norm gives the factor torch would (0 for +∞, NaN for NaN): check
 * `isFiniteNorm(norm)` and skip the step instead.
 */
export function clipFactor(squaredNorms: ArrayLike<number>, maxNorm: number): { norm: number; factor: number } {
  if (Number.isNaN(maxNorm)) throw new RangeError('clipFactor: maxNorm must be a number (≤ 0 or +Infinity to disable clipping), got NaN');
  let sum = 0;
  for (let i = 0; i < squaredNorms.length; i++) {
    const s = squaredNorms[i];
    if (s < 0) throw new RangeError(`clipFactor: squared norm ${i} is negative (${s})`);
    sum += s;
  }
  const norm = Math.sqrt(sum);
  if (maxNorm <= 0 || maxNorm === Infinity) return { norm, factor: 1 };
  return { norm, factor: Math.min(1, maxNorm / (norm + 1e-6)) };
}

/** True when a gradient norm (or every one of several squared norms) is finite, i.e. the step can be taken. */
export function isFiniteNorm(norm: number | ArrayLike<number>): boolean {
  if (typeof norm === 'number') return Number.isFinite(norm);
  for (let i = 0; i < norm.length; i++) if (!Number.isFinite(norm[i])) return false;
  return true;
}
