/**
 * GPU tensors as the kernel wrappers see them: a buffer, a logical shape and a name for error messages.
 * All activations and LoRA matrices are f32, row-major. The frozen W0 is a `GpuWeight` (gpu-weight.ts).
 */
import { ShapeError } from '../gpu/errors';
import { uploadStorage, createStorage, readFloat32 } from '../gpu/buffers';

export interface GpuTensor {
  buffer: GPUBuffer;
  shape: readonly number[];
  name: string;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** An f32 tensor holding a copy of `data`. */
export function tensorFrom(device: GPUDevice, data: Float32Array, shape: readonly number[], name: string): GpuTensor {
  if (data.length !== elementCount(shape)) {
    throw new ShapeError(`${name}: ${data.length} values do not fill shape ${formatShape(shape)} (${elementCount(shape)})`);
  }
  return { buffer: uploadStorage(device, data, name), shape, name };
}

/** A zero-filled f32 tensor. */
export function zerosTensor(device: GPUDevice, shape: readonly number[], name: string): GpuTensor {
  return { buffer: createStorage(device, elementCount(shape) * 4, name), shape, name };
}

export async function readTensor(device: GPUDevice, t: GpuTensor): Promise<Float32Array> {
  return readFloat32(device, t.buffer, elementCount(t.shape));
}

/**
 * Checks that `t` has exactly the `expected` shape and that its buffer holds that many f32 values.
 * `dims` names the dimensions for the message, e.g. "[M, K]".
 */
export function expectShape(kernel: string, role: string, t: GpuTensor, expected: readonly number[], dims: string): void {
  const same = t.shape.length === expected.length && t.shape.every((d, i) => d === expected[i]);
  if (!same) {
    throw new ShapeError(
      `${kernel}: tensor "${t.name}" (${role}) has shape ${formatShape(t.shape)}, expected ${dims} = ${formatShape(expected)}`,
    );
  }
  const needed = elementCount(expected) * 4;
  if (t.buffer.size < needed) {
    throw new ShapeError(
      `${kernel}: buffer of tensor "${t.name}" (${role}) has ${t.buffer.size} bytes, shape ${formatShape(expected)} needs ${needed}`,
    );
  }
}

export function expectPositiveInt(kernel: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new ShapeError(`${kernel}: ${what} must be a positive integer, got ${v}`);
}
