/**
 * Rotary position embedding (Llama family), HF rotate-half convention, applied in place to q or k —
 * rope.wgsl. The backward is the inverse rotation (`inverse: true`) applied in place to dq or dk.
 * cos/sin come from a table built on the host (`ropeTable`), so scaled RoPE variants only change the table.
 */
import { UniformWriter } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d } from './dispatch';
import { checkIndicesBelow, expectDistinctBuffers, expectIndexLength, type GpuIndexTensor } from './index-tensor';
import { expectPositiveInt, expectShape, formatShape, type GpuTensor } from './tensor';
import ropeWgsl from './rope.wgsl?raw';

export interface RopeArgs {
  /** [M, heads·headDim], rotated in place. */
  x: GpuTensor;
  heads: number;
  /** Even. */
  headDim: number;
  /** [M] (u32), each < maxPos; validate with `checkPositions`. A larger one is clamped to maxPos − 1. */
  positions: GpuIndexTensor;
  /** [maxPos, headDim/2, 2]: (cos, sin) of pos·theta^(−2i/headDim), from `ropeTable`. */
  table: GpuTensor;
  /** Rotate by −angle: the backward of the rotation (and its exact inverse). */
  inverse?: boolean;
}

/**
 * cos and sin of pos·theta^(−2i/headDim) for pos < maxPositions, i < headDim/2, computed in float64 and
 * rounded to f32, laid out [maxPositions, headDim/2, 2]. (HF computes the angle in f32, so its values
 * differ from these by up to about pos·2⁻²⁴ radians; these are the exact ones.)
 */
export function ropeTable(maxPositions: number, headDim: number, theta: number): Float32Array {
  expectPositiveInt('ropeTable', 'maxPositions', maxPositions);
  expectPositiveInt('ropeTable', 'headDim', headDim);
  if (headDim % 2 !== 0) throw new ShapeError(`ropeTable: headDim must be even, got ${headDim}`);
  if (!(theta > 0)) throw new RangeError(`ropeTable: theta must be positive, got ${theta}`);
  const half = headDim / 2;
  const out = new Float32Array(maxPositions * half * 2);
  for (let p = 0; p < maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * theta ** ((-2 * i) / headDim);
      out[(p * half + i) * 2] = Math.cos(angle);
      out[(p * half + i) * 2 + 1] = Math.sin(angle);
    }
  }
  return out;
}

/** Throws a RangeError naming the first position that is not an integer in [0, maxPositions). */
export function checkPositions(positions: ArrayLike<number>, maxPositions: number, name: string): void {
  checkIndicesBelow(positions, maxPositions, name, 'position', 'rotary table length');
}

/** Rotates each head's pairs (x[i], x[i + hd/2]) of every row by ±pos·theta^(−2i/hd), in place. */
export function encodeRope(rec: CommandRecorder, args: RopeArgs): void {
  const kernel = args.inverse ? 'rope inverse' : 'rope';
  const { x, heads, headDim, positions, table } = args;
  expectPositiveInt(kernel, 'heads', heads);
  expectPositiveInt(kernel, 'headDim', headDim);
  if (headDim % 2 !== 0) throw new ShapeError(`${kernel}: headDim must be even, got ${headDim}`);
  if (x.shape.length !== 2 || x.shape[0] < 1) {
    throw new ShapeError(`${kernel}: tensor "${x.name}" (x) must be a non-empty 2-D [M, heads·headDim], got ${formatShape(x.shape)}`);
  }
  const M = x.shape[0];
  const half = headDim / 2;
  expectShape(kernel, 'x', x, [M, heads * headDim], '[M, heads·headDim]');
  expectIndexLength(kernel, 'positions', positions, M, 'M');
  const maxPos = table.shape[0] ?? 0;
  if (maxPos < 1) throw new ShapeError(`${kernel}: tensor "${table.name}" (table) is empty`);
  expectShape(kernel, 'table', table, [maxPos, half, 2], '[maxPos, headDim/2, 2]');
  expectDistinctBuffers(kernel, { x }, { positions, table });
  rec.dispatch({
    label: `${kernel}(${x.name})`,
    pipeline: { name: 'rope', code: ropeWgsl, storage: ['write', 'read', 'read'] },
    uniform: new UniformWriter(8).u32(M).u32(heads).u32(half).u32(maxPos).bool(Boolean(args.inverse)).buffer,
    buffers: [x.buffer, positions.buffer, table.buffer],
    workgroups: grid1d(M * heads * half, 64, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}
