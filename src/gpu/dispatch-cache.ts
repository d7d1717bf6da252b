/**
 * GPU objects that dispatches reuse from one command buffer to the next, per device: bind groups with their
 * uniform buffers, and scratch storage buffers.
 *
 * A bind group (and the uniform buffer it binds) is reused when a dispatch has the same pipeline, the same
 * storage buffers (by identity) and the same uniform bytes as an earlier one. The uniform's bytes are part of
 * the key, so a cached uniform buffer is never written again: reusing it while earlier work is pending is safe.
 * Dispatches whose uniforms change every step (the optimizer's step and learning rate, dropout seeds) miss,
 * and their entries are evicted like any other.
 *
 * Eviction, at each submit: an entry not used in the last `maxIdleSubmits` submits is dropped, and beyond
 * `maxEntries` the least recently used ones are, and the uniform buffer of a dropped entry is destroyed.
 * When a storage buffer is destroyed, the entries that bind it are dropped at once (the cache wraps the
 * buffer's own `destroy`, since WebGPU has no event for it). An entry that a command recorder has used but not
 * yet submitted keeps its uniform buffer until that recorder submits, since destroying it would invalidate the
 * submit.
 *
 * Scratch buffers (CommandRecorder.scratch) come from a pool by size: a recorder takes them, gives them back
 * when it submits, and a buffer taken again is cleared in the taking recorder's command buffer, so that scratch
 * memory reads zero as a fresh buffer does. Pooled buffers idle for `maxIdleSubmits` submits are destroyed.
 *
 * A recorder that is never submitted keeps what it took: the uniforms of its entries are not destroyed when
 * those are dropped, and its scratch buffers do not return to the pool; garbage collection frees them.
 */
import { createStorage, createUniform } from './buffers';

export interface DispatchCacheOptions {
  /** Entries, and pooled scratch buffers, not used in this many submits are dropped. */
  maxIdleSubmits?: number;
  /** At most this many entries survive a submit; the least recently used go first. */
  maxEntries?: number;
}

/**
 * A training step submits a few command buffers per micro-batch plus two for the optimizer, so 64 submits keep
 * a step's entries through large gradient accumulations; 8192 entries are far more than one step dispatches.
 */
export const DEFAULT_DISPATCH_CACHE: Required<DispatchCacheOptions> = { maxIdleSubmits: 64, maxEntries: 8192 };

/** Totals since the cache was made; subtract two snapshots (`countersSince`) for the counts of a step. */
export interface DispatchCounters {
  /** Dispatches that reused a cached bind group and uniform buffer. */
  hits: number;
  /** Dispatches that created a bind group and a uniform buffer. */
  misses: number;
  /** Bytes of the uniform buffers created by misses. */
  uniformBytesCreated: number;
  /** Entries dropped: idle, over the cap, or binding a destroyed buffer. */
  evicted: number;
  /** Submits of command recorders on this device. */
  submits: number;
  /** Scratch buffers created, and taken again from the pool. */
  scratchCreated: number;
  scratchReused: number;
}

/** What the cache holds now. */
export interface DispatchCacheHeld {
  entries: number;
  /** Bytes of the uniform buffers of live entries (and of dropped ones a recorder still uses). */
  uniformBytes: number;
  /** Bytes of the pooled scratch buffers, in the pool or taken by a recorder. */
  scratchBytes: number;
}

export function countersSince(now: DispatchCounters, before: DispatchCounters): DispatchCounters {
  const out = { ...now };
  for (const k of Object.keys(out) as (keyof DispatchCounters)[]) out[k] -= before[k];
  return out;
}

interface Entry {
  key: string;
  bindGroup: GPUBindGroup;
  uniform: GPUBuffer;
  bufferIds: readonly number[];
  /** The submit count when the entry was last used. */
  lastUsed: number;
  /** Recordings that used the entry and have not submitted yet. */
  pins: number;
  dropped: boolean;
}

interface PooledScratch {
  buffer: GPUBuffer;
  lastUsed: number;
}

/** What one command recorder holds from the cache until it submits. */
export interface Recording {
  readonly pinned: Set<Entry>;
  readonly scratch: GPUBuffer[];
}

/** What a bind group is made of: binding 0 is the uniform, the storage buffers follow in binding order. */
export interface BindingSpec {
  label: string;
  uniform: ArrayBuffer;
  buffers: readonly GPUBuffer[];
}

export class DispatchCache {
  private readonly options: Required<DispatchCacheOptions>;
  /** Least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private readonly entriesOfBuffer = new Map<number, Set<Entry>>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private readonly freeScratch = new Map<number, PooledScratch[]>();
  private uniformBytes = 0;
  private scratchBytes = 0;
  private readonly totals: DispatchCounters = {
    hits: 0,
    misses: 0,
    uniformBytesCreated: 0,
    evicted: 0,
    submits: 0,
    scratchCreated: 0,
    scratchReused: 0,
  };

  constructor(
    private readonly device: GPUDevice,
    options: DispatchCacheOptions = {},
  ) {
    this.options = { ...DEFAULT_DISPATCH_CACHE, ...options };
    for (const [name, v] of Object.entries(this.options)) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`DispatchCache: ${name} must be a non-negative integer, got ${v}`);
    }
  }

  get counters(): DispatchCounters {
    return { ...this.totals };
  }

  get held(): DispatchCacheHeld {
    return { entries: this.entries.size, uniformBytes: this.uniformBytes, scratchBytes: this.scratchBytes };
  }

  /** Starts what one command recorder takes from the cache; `submitted` ends it. */
  begin(): Recording {
    return { pinned: new Set(), scratch: [] };
  }

  /** The bind group of a dispatch of `pipeline`, cached or made now. */
  bindGroup(rec: Recording, pipeline: { layout: GPUBindGroupLayout }, spec: BindingSpec): GPUBindGroup {
    const bufferIds = spec.buffers.map((b) => this.bufferId(b));
    const key = `${this.idOf(pipeline)}|${bufferIds.join(',')}|${uniformKey(spec.uniform)}`;
    let entry = this.entries.get(key);
    if (entry) {
      this.totals.hits++;
      this.entries.delete(key); // re-inserted last: most recently used
    } else {
      this.totals.misses++;
      const uniform = createUniform(this.device, spec.uniform, `${spec.label} params`);
      this.totals.uniformBytesCreated += uniform.size;
      this.uniformBytes += uniform.size;
      const bindGroup = this.device.createBindGroup({
        label: spec.label,
        layout: pipeline.layout,
        entries: [
          { binding: 0, resource: { buffer: uniform } },
          ...spec.buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } })),
        ],
      });
      entry = { key, bindGroup, uniform, bufferIds, lastUsed: 0, pins: 0, dropped: false };
      for (const id of bufferIds) {
        let set = this.entriesOfBuffer.get(id);
        if (!set) this.entriesOfBuffer.set(id, (set = new Set()));
        set.add(entry);
      }
    }
    this.entries.set(key, entry);
    entry.lastUsed = this.totals.submits;
    if (!rec.pinned.has(entry)) {
      rec.pinned.add(entry);
      entry.pins++;
    }
    return entry.bindGroup;
  }

  /**
   * A zero-filled storage buffer of at least `byteLength` bytes, the recorder's alone until it submits. A pooled
   * one is cleared by a command in `encoder`, ahead of the commands that use it.
   */
  scratch(rec: Recording, encoder: GPUCommandEncoder, byteLength: number, label: string): GPUBuffer {
    const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
    const pooled = this.freeScratch.get(size)?.pop();
    let buffer: GPUBuffer;
    if (pooled) {
      this.totals.scratchReused++;
      buffer = pooled.buffer;
      buffer.label = label;
      encoder.clearBuffer(buffer);
    } else {
      this.totals.scratchCreated++;
      buffer = createStorage(this.device, size, label);
      this.scratchBytes += buffer.size;
    }
    rec.scratch.push(buffer);
    return buffer;
  }

  /** Ends a recording once its command buffer is submitted, then evicts what has been idle too long. */
  submitted(rec: Recording): void {
    this.totals.submits++;
    for (const entry of rec.pinned) {
      entry.pins--;
      if (entry.dropped && entry.pins === 0) this.release(entry);
    }
    rec.pinned.clear();
    for (const buffer of rec.scratch) {
      let free = this.freeScratch.get(buffer.size);
      if (!free) this.freeScratch.set(buffer.size, (free = []));
      free.push({ buffer, lastUsed: this.totals.submits });
    }
    rec.scratch.length = 0;
    this.evict();
  }

  private evict(): void {
    const oldest = this.totals.submits - this.options.maxIdleSubmits;
    // Map order is least recently used first, so idle entries and those over the cap are at the front.
    for (const entry of this.entries.values()) {
      if (entry.lastUsed >= oldest && this.entries.size <= this.options.maxEntries) break;
      this.drop(entry);
    }
    for (const [size, free] of this.freeScratch) {
      // Given back in submit order: the idle ones are at the front.
      let idle = 0;
      while (idle < free.length && free[idle].lastUsed < oldest) idle++;
      for (const { buffer } of free.splice(0, idle)) {
        this.scratchBytes -= buffer.size;
        buffer.destroy();
      }
      if (free.length === 0) this.freeScratch.delete(size);
    }
  }

  private drop(entry: Entry): void {
    if (entry.dropped) return;
    entry.dropped = true;
    this.totals.evicted++;
    this.entries.delete(entry.key);
    for (const id of entry.bufferIds) {
      const set = this.entriesOfBuffer.get(id);
      set?.delete(entry);
      if (set?.size === 0) this.entriesOfBuffer.delete(id);
    }
    if (entry.pins === 0) this.release(entry);
  }

  private release(entry: Entry): void {
    this.uniformBytes -= entry.uniform.size;
    entry.uniform.destroy();
  }

  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  /** The buffer's id; the first time, its `destroy` is wrapped to drop the entries that bind it. */
  private bufferId(buffer: GPUBuffer): number {
    let id = this.ids.get(buffer);
    if (id !== undefined) return id;
    id = this.idOf(buffer);
    const bufferId = id;
    const destroy = buffer.destroy;
    const dropEntriesOf = (): void => {
      for (const entry of this.entriesOfBuffer.get(bufferId) ?? []) this.drop(entry);
    };
    Object.defineProperty(buffer, 'destroy', {
      configurable: true,
      writable: true,
      value(this: GPUBuffer): undefined {
        dropEntriesOf();
        return destroy.call(this);
      },
    });
    return id;
  }
}

/** The uniform's bytes as text, for the key. */
function uniformKey(data: ArrayBuffer): string {
  const words = data.byteLength % 4 === 0 ? new Uint32Array(data) : new Uint8Array(data);
  return words.join(',');
}
