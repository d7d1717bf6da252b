/** Creating, filling and reading back GPU buffers. */
import { GpuLimitError } from './errors';

export type HostArray = Float32Array | Uint32Array | Int32Array;

/** Usage of every storage buffer. GPUBufferUsage is a global only once WebGPU is installed, so read it lazily. */
export function storageUsage(): number {
  return GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
}

/** A storage buffer of `byteLength` bytes (rounded up to 4, at least 4), zero-filled. */
export function createStorage(device: GPUDevice, byteLength: number, label: string): GPUBuffer {
  const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
  if (size > device.limits.maxBufferSize) {
    throw new GpuLimitError('maxBufferSize', size, device.limits.maxBufferSize, `buffer "${label}"`);
  }
  return device.createBuffer({ size, usage: storageUsage(), label });
}

/** A storage buffer holding a copy of `data`. */
export function uploadStorage(device: GPUDevice, data: HostArray, label: string): GPUBuffer {
  const buffer = createStorage(device, data.byteLength, label);
  if (data.byteLength > 0) device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  return buffer;
}

/** Copies `byteLength` bytes of `buffer` back to the host. */
export async function readBack(device: GPUDevice, buffer: GPUBuffer, byteLength = buffer.size): Promise<ArrayBuffer> {
  const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
  const staging = device.createBuffer({
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    label: `${buffer.label} (read back)`,
  });
  const encoder = device.createCommandEncoder({ label: 'read back' });
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange(0, size).slice(0, byteLength);
  staging.unmap();
  staging.destroy();
  return copy;
}

export async function readFloat32(device: GPUDevice, buffer: GPUBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await readBack(device, buffer, count * 4));
}

/** A uniform buffer filled from a packed parameter block (see `UniformWriter`). */
export function createUniform(device: GPUDevice, data: ArrayBuffer, label: string): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
  const buffer = device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

/** Packs a WGSL uniform struct whose fields are all 4-byte u32 or f32, in declaration order. */
export class UniformWriter {
  private readonly view: DataView;
  private offset = 0;

  constructor(fields: number) {
    this.view = new DataView(new ArrayBuffer(Math.max(16, Math.ceil((fields * 4) / 16) * 16)));
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uniform u32 out of range: ${v}`);
    this.view.setUint32(this.offset, v, true);
    this.offset += 4;
    return this;
  }

  f32(v: number): this {
    this.view.setFloat32(this.offset, v, true);
    this.offset += 4;
    return this;
  }

  bool(v: boolean): this {
    return this.u32(v ? 1 : 0);
  }

  get buffer(): ArrayBuffer {
    return this.view.buffer as ArrayBuffer;
  }
}
