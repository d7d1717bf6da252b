/**
 * Index tensors: token ids, positions and targets, as u32 or i32 GPU buffers. Only their length is known on
 * the GPU side; the values are validated on the host before upload (`checkIndicesBelow`, `checkTokenIds` in
 * embedding.ts, `checkTargets` in cross-entropy.ts), and every kernel that reads one clamps or skips
 * out-of-range values so that it never reads out of bounds.
 */
import { uploadStorage } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import type { GpuTensor } from './tensor';

export interface GpuIndexTensor {
  buffer: GPUBuffer;
  /** Number of 32-bit indices. */
  length: number;
  name: string;
}

/** A GPU buffer holding a copy of `data` (u32 or i32; the kernel decides how the bits are read). */
export function indexTensorFrom(device: GPUDevice, data: Uint32Array | Int32Array, name: string): GpuIndexTensor {
  return { buffer: uploadStorage(device, data, name), length: data.length, name };
}

/**
 * Checks that `t` holds exactly `expected` indices and that its buffer is large enough, e.g.
 * `embedding: index tensor "ids" (ids) has length 36, expected M = 37`.
 */
export function expectIndexLength(kernel: string, role: string, t: GpuIndexTensor, expected: number, dim: string): void {
  if (t.length !== expected) {
    throw new ShapeError(`${kernel}: index tensor "${t.name}" (${role}) has length ${t.length}, expected ${dim} = ${expected}`);
  }
  if (t.buffer.size < expected * 4) {
    throw new ShapeError(
      `${kernel}: buffer of index tensor "${t.name}" (${role}) has ${t.buffer.size} bytes, ${expected} indices need ${expected * 4}`,
    );
  }
}

/**
 * Throws a RangeError naming the first value of `values` that is not an integer in [0, limit), with its
 * position, e.g. `ids: token id 301 at index 5 (of 37) is outside [0, 301) (vocabulary size)`.
 */
export function checkIndicesBelow(values: ArrayLike<number>, limit: number, name: string, what: string, limitName: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v >= limit) {
      throw new RangeError(`${name}: ${what} ${v} at index ${i} (of ${values.length}) is outside [0, ${limit}) (${limitName})`);
    }
  }
}

type Bound = GpuTensor | GpuIndexTensor | undefined;

/**
 * WebGPU forbids binding one buffer twice in a dispatch when either binding is writable. Throws a ShapeError
 * naming both tensors when a `written` tensor shares its buffer with any other binding, instead of the
 * asynchronous validation error WebGPU would raise.
 */
export function expectDistinctBuffers(kernel: string, written: Record<string, Bound>, read: Record<string, Bound> = {}): void {
  const all = [...Object.entries(written).map(([r, t]) => [r, t, true] as const), ...Object.entries(read).map(([r, t]) => [r, t, false] as const)];
  for (let i = 0; i < all.length; i++) {
    const [roleA, a, writtenA] = all[i];
    if (!a || !writtenA) continue;
    for (let j = 0; j < all.length; j++) {
      const [roleB, b] = all[j];
      if (j === i || !b || b.buffer !== a.buffer) continue;
      throw new ShapeError(`${kernel}: "${a.name}" (${roleA}) is written and shares its buffer with "${b.name}" (${roleB}); pass distinct buffers`);
    }
  }
}
