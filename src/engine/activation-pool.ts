/**
 * The activation buffers of passes, kept from pass to pass. A pass takes its tensors with `tensor()` and returns
 * them all at once with `release()`; the next pass of the same shapes gets the same buffers back in the same order,
 * so its dispatches bind the same buffers (and the dispatch cache can reuse their bind groups).
 *
 * Buffers come in size classes (four per octave, so a buffer is at most 25 % larger than its tensor): training
 * batches padded to different lengths still reuse each other's buffers. A tensor's buffer may be larger than
 * its shape; kernels read and write only the shape's elements. A reused buffer holds what the last pass left in
 * it: every kernel the passes run writes its whole output (or adds to a buffer the same pass wrote first), and
 * `tensor(…, { zeroed: true })` asks for zeros where a kernel only adds. Buffers no pass has used for
 * `maxIdlePasses` releases are destroyed, so the pool holds little more than its largest recent pass.
 */
import { createStorage } from '../gpu/buffers';
import type { GpuIndexTensor } from '../kernels/index-tensor';
import { elementCount, type GpuTensor } from '../kernels/tensor';

interface Pooled {
  buffer: GPUBuffer;
  /** The release count when it was last handed out. */
  lastUsed: number;
}

export interface PoolStats {
  /** Bytes of the tensors handed out since the last release: one pass's activations (the buffers round up to size classes). */
  bytesInUse: number;
  /** Bytes the pool holds, in use or free. */
  bytesHeld: number;
  /** Buffers created since the pool was made. */
  created: number;
  /** Tensors served from a kept buffer since the pool was made. */
  reused: number;
}

/** The size class of a tensor of `bytes`: rounded up to a quarter of its power of two (at least 256 bytes). */
export function sizeClass(bytes: number): number {
  const b = Math.max(256, bytes);
  const quarter = 2 ** Math.max(0, Math.floor(Math.log2(b)) - 2);
  return Math.ceil(b / quarter) * quarter;
}

export class ActivationPool {
  private readonly free = new Map<number, Pooled[]>();
  private readonly inUse: Pooled[] = [];
  private releases = 0;
  private stats: PoolStats = { bytesInUse: 0, bytesHeld: 0, created: 0, reused: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly maxIdlePasses = 2,
  ) {}

  /** An f32 tensor of `shape` for the current pass. */
  tensor(shape: readonly number[], name: string, opts: { zeroed?: boolean } = {}): GpuTensor {
    const buffer = this.take(elementCount(shape) * 4, name, opts.zeroed ?? false);
    this.stats.bytesInUse += elementCount(shape) * 4;
    return { buffer, shape: [...shape], name };
  }

  /** An index tensor (token ids, positions, targets) for the current pass, holding a copy of `data`; not counted as activations. */
  indices(data: Uint32Array | Int32Array, name: string): GpuIndexTensor {
    const buffer = this.take(data.length * 4, name, false);
    this.device.queue.writeBuffer(buffer, 0, data as Uint32Array<ArrayBuffer>);
    return { buffer, length: data.length, name };
  }

  private take(needed: number, name: string, zeroed: boolean): GPUBuffer {
    const bytes = sizeClass(needed);
    const list = this.free.get(bytes);
    let p = list?.shift();
    if (p) {
      this.stats.reused++;
      if (zeroed) this.device.queue.writeBuffer(p.buffer, 0, new Uint8Array(needed));
    } else {
      // New buffers start zeroed.
      p = { buffer: createStorage(this.device, bytes, name), lastUsed: this.releases };
      this.stats.created++;
      this.stats.bytesHeld += bytes;
    }
    p.lastUsed = this.releases;
    this.inUse.push(p);
    return p.buffer;
  }

  /**
   * Returns every tensor of the pass to the pool. Call it after the pass's work is submitted: WebGPU keeps a
   * buffer alive for work already submitted, and the next pass's writes are queued after it.
   */
  release(): void {
    this.releases++;
    for (const p of this.inUse) {
      const list = this.free.get(p.buffer.size) ?? [];
      list.push(p);
      this.free.set(p.buffer.size, list);
    }
    this.inUse.length = 0;
    this.stats.bytesInUse = 0;
    for (const [size, list] of this.free) {
      const keep = list.filter((p) => this.releases - p.lastUsed <= this.maxIdlePasses);
      for (const p of list) {
        if (keep.includes(p)) continue;
        p.buffer.destroy();
        this.stats.bytesHeld -= size;
      }
      if (keep.length === 0) this.free.delete(size);
      else this.free.set(size, keep);
    }
  }

  get bytesInUse(): number {
    return this.stats.bytesInUse;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }

  destroy(): void {
    for (const p of this.inUse) p.buffer.destroy();
    for (const list of this.free.values()) for (const p of list) p.buffer.destroy();
    this.inUse.length = 0;
    this.free.clear();
    this.stats.bytesHeld = 0;
  }
}
