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
 *
 * A pass may also hand tensors back before it ends (`free`, `freeSince`): their buffers then serve the pass's later
 * tensors of the same size class. Everything a pass records goes into one command buffer that runs in order, so a
 * kernel that writes a reused buffer runs after the last kernel that read its earlier tensor. Only the queue's
 * own writes (`queue.writeBuffer`, which runs before the whole command buffer) would break that order: tensors
 * the host writes (`{ hostWritten: true }`, index tensors, zeroed tensors) never get a buffer freed in this pass.
 */
import { createStorage } from '../gpu/buffers';
import type { GpuIndexTensor } from '../kernels/index-tensor';
import { elementCount, type GpuTensor } from '../kernels/tensor';

interface Pooled {
  buffer: GPUBuffer;
  /** The release count when it was last handed out. */
  lastUsed: number;
}

/** A tensor handed out in the current pass: its buffer, its bytes, and its place in the pass's order. */
interface Handed {
  pooled: Pooled;
  bytes: number;
  seq: number;
  /** Counted in bytesInUse (activation tensors; index tensors are not). */
  counted: boolean;
  /** Kept until the pass ends: freeSince passes over it. */
  wholePass: boolean;
}

export interface TensorOptions {
  /** Zero-filled (written by the host: see hostWritten). */
  zeroed?: boolean;
  /** The caller fills it with queue.writeBuffer, which runs before the pass's commands: never a buffer freed in this pass. */
  hostWritten?: boolean;
  /** Lives until the pass ends, whatever freeSince frees (tensors a pass caches, such as its column of ones). */
  wholePass?: boolean;
}

export interface PoolStats {
  /** Bytes of the tensors of this pass not yet freed (the buffers round up to size classes). */
  bytesInUse: number;
  /** The most bytesInUse reached since the last release: the pass's activation memory. */
  peakBytes: number;
  /** The same two counts in whole buffers (size classes): what the pass's live tensors occupy on the GPU. */
  bufferBytesInUse: number;
  peakBufferBytes: number;
  /** peakBytes and peakBufferBytes of the pass before the last release. */
  lastPeakBytes: number;
  lastPeakBufferBytes: number;
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
  private readonly idle = new Map<number, Pooled[]>();
  /** Buffers freed during the current pass: they serve only tensors the GPU writes first. */
  private readonly freedInPass = new Map<number, Pooled[]>();
  private readonly inUse = new Map<GPUBuffer, Handed>();
  private seq = 0;
  /** Where in the pass each buffer was first handed out. */
  private firstSeq = new WeakMap<Pooled, number>();
  private releases = 0;
  private stats: PoolStats = { bytesInUse: 0, peakBytes: 0, bufferBytesInUse: 0, peakBufferBytes: 0, lastPeakBytes: 0, lastPeakBufferBytes: 0, bytesHeld: 0, created: 0, reused: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly maxIdlePasses = 2,
  ) {}

  /**
   * An f32 tensor of `shape` for the current pass. `zeroed` asks for zeros; `hostWritten` says the caller fills it
   * with `queue.writeBuffer` (zeroed tensors are host-written too).
   */
  tensor(shape: readonly number[], name: string, opts: TensorOptions = {}): GpuTensor {
    const zeroed = opts.zeroed ?? false;
    const buffer = this.take(elementCount(shape) * 4, name, zeroed, zeroed || (opts.hostWritten ?? false), true, opts.wholePass ?? false);
    return { buffer, shape: [...shape], name };
  }

  /** An index tensor (token ids, positions, targets) for the current pass, holding a copy of `data`; not counted as activations. */
  indices(data: Uint32Array | Int32Array, name: string): GpuIndexTensor {
    const buffer = this.take(data.length * 4, name, false, true, false, true);
    this.device.queue.writeBuffer(buffer, 0, data as Uint32Array<ArrayBuffer>);
    return { buffer, length: data.length, name };
  }

  private take(needed: number, name: string, zeroed: boolean, hostWritten: boolean, counted: boolean, wholePass: boolean): GPUBuffer {
    const bytes = sizeClass(needed);
    let p = hostWritten ? undefined : this.freedInPass.get(bytes)?.pop();
    if (!p) {
      p = this.idle.get(bytes)?.shift();
      if (p) this.stats.reused++;
    }
    if (p) {
      if (zeroed) this.device.queue.writeBuffer(p.buffer, 0, new Uint8Array(needed));
    } else {
      // New buffers start zeroed.
      p = { buffer: createStorage(this.device, bytes, name), lastUsed: this.releases };
      this.stats.created++;
      this.stats.bytesHeld += bytes;
    }
    p.lastUsed = this.releases;
    if (!this.firstSeq.has(p)) this.firstSeq.set(p, this.seq);
    this.inUse.set(p.buffer, { pooled: p, bytes: needed, seq: this.seq++, counted, wholePass });
    if (counted) {
      this.stats.bytesInUse += needed;
      this.stats.bufferBytesInUse += bytes;
      this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.bytesInUse);
      this.stats.peakBufferBytes = Math.max(this.stats.peakBufferBytes, this.stats.bufferBytesInUse);
    }
    return p.buffer;
  }

  /** A mark of the pass's order: `freeSince(mark)` frees what was handed out after it. */
  mark(): number {
    return this.seq;
  }

  /**
   * Frees, within the pass, the tensors handed out from `from` (a mark) up to `to` (another mark; default: now),
   * except those in `keep` and whole-pass tensors. Their buffers serve the pass's later tensors (see the class comment).
   */
  freeSince(from: number, keep: readonly { buffer: GPUBuffer }[] = [], to = Infinity): void {
    const kept = new Set(keep.map((t) => t.buffer));
    for (const [buffer, h] of this.inUse) {
      if (h.seq >= from && h.seq < to && !h.wholePass && !kept.has(buffer)) this.dropHanded(buffer, h);
    }
  }

  /** Frees these tensors of the pass (each must have come from this pool in this pass and not be freed yet). */
  free(...tensors: { buffer: GPUBuffer; name: string }[]): void {
    for (const t of tensors) {
      const h = this.inUse.get(t.buffer);
      if (!h) throw new Error(`internal: tensor "${t.name}" is not in use in this pass`);
      this.dropHanded(t.buffer, h);
    }
  }

  private dropHanded(buffer: GPUBuffer, h: Handed): void {
    this.inUse.delete(buffer);
    if (h.counted) {
      this.stats.bytesInUse -= h.bytes;
      this.stats.bufferBytesInUse -= buffer.size;
    }
    const list = this.freedInPass.get(buffer.size) ?? [];
    list.push(h.pooled);
    this.freedInPass.set(buffer.size, list);
  }

  /**
   * Returns every tensor of the pass to the pool. Call it after the pass's work is submitted: WebGPU keeps a
   * buffer alive for work already submitted, and the next pass's writes are queued after it.
   */
  release(): void {
    this.releases++;
    const back = (p: Pooled) => {
      const list = this.idle.get(p.buffer.size) ?? [];
      list.push(p);
      this.idle.set(p.buffer.size, list);
    };
    // Buffers go back in the order they were first handed out in, so the next pass of the same shapes gets the same ones.
    const handed = [...this.inUse.values()].map((h) => h.pooled);
    for (const list of this.freedInPass.values()) handed.push(...list);
    handed.sort((a, b) => (this.firstSeq.get(a) ?? 0) - (this.firstSeq.get(b) ?? 0));
    for (const p of handed) back(p);
    this.inUse.clear();
    this.freedInPass.clear();
    this.firstSeq = new WeakMap();
    this.seq = 0;
    this.stats.lastPeakBytes = this.stats.peakBytes;
    this.stats.lastPeakBufferBytes = this.stats.peakBufferBytes;
    this.stats.bytesInUse = 0;
    this.stats.peakBytes = 0;
    this.stats.bufferBytesInUse = 0;
    this.stats.peakBufferBytes = 0;
    for (const [size, list] of this.idle) {
      const keep = list.filter((p) => this.releases - p.lastUsed <= this.maxIdlePasses);
      for (const p of list) {
        if (keep.includes(p)) continue;
        p.buffer.destroy();
        this.stats.bytesHeld -= size;
      }
      if (keep.length === 0) this.idle.delete(size);
      else this.idle.set(size, keep);
    }
  }

  get bytesInUse(): number {
    return this.stats.bytesInUse;
  }

  /** The most activation bytes the current pass has had in use at once. */
  get peakBytes(): number {
    return this.stats.peakBytes;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }

  destroy(): void {
    for (const buffer of this.inUse.keys()) buffer.destroy();
    for (const list of [...this.idle.values(), ...this.freedInPass.values()]) for (const p of list) p.buffer.destroy();
    this.inUse.clear();
    this.idle.clear();
    this.freedInPass.clear();
    this.stats.bytesHeld = 0;
  }
}
