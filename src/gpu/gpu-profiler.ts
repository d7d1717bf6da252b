/**
 * GPU time per kernel, from timestamp queries (the `timestamp-query` feature): each compute pass a command
 * recorder begins writes a timestamp at its start and end, and the differences are summed by kernel name.
 * Benchmarks switch it on (`GpuContext.profiler`); the studio never does, so no step pays for it.
 *
 * Browsers quantize timestamps (to 100 µs in Chromium unless its developer features are on), so short kernels
 * read as 0 or 100 µs there; under Node (Dawn) they are exact.
 */

/** What one command recorder wrote: its query sets and, per dispatch, the kernel it ran. */
export interface ProfileRecording {
  readonly sets: GPUQuerySet[];
  readonly kernels: string[];
}

/** The buffers `resolve` copies a recording's timestamps through; `submitted` takes them. */
export interface ResolvedTimestamps {
  resolved: GPUBuffer;
  readable: GPUBuffer;
}

/** GPU time of one kernel over the dispatches profiled since the last `drain`. */
export interface KernelTime {
  kernel: string;
  ms: number;
  dispatches: number;
}

/** WebGPU allows at most 4096 queries per set: 2048 dispatches. */
const QUERIES_PER_SET = 4096;

export class GpuProfiler {
  /** Per submitted recording: the GPU nanoseconds of each of its dispatches, once read back. */
  private readonly pending: Promise<Array<[kernel: string, ns: number]>>[] = [];

  private constructor(private readonly device: GPUDevice) {}

  /** A profiler for `device`, or null when the device was created without `timestamp-query`. */
  static create(device: GPUDevice): GpuProfiler | null {
    return device.features.has('timestamp-query') ? new GpuProfiler(device) : null;
  }

  begin(): ProfileRecording {
    return { sets: [], kernels: [] };
  }

  /** The timestamp writes for the next compute pass of `rec`, which runs `kernel`. */
  timestampWrites(rec: ProfileRecording, kernel: string): GPUComputePassTimestampWrites {
    const index = rec.kernels.length;
    const slot = (index * 2) % QUERIES_PER_SET;
    if (slot === 0) rec.sets.push(this.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET, label: 'kernel timestamps' }));
    rec.kernels.push(kernel);
    return { querySet: rec.sets[rec.sets.length - 1], beginningOfPassWriteIndex: slot, endOfPassWriteIndex: slot + 1 };
  }

  /** Records, at the end of `encoder`, the copy of the recording's timestamps to a buffer the host can read. */
  resolve(rec: ProfileRecording, encoder: GPUCommandEncoder): ResolvedTimestamps | null {
    const n = rec.kernels.length * 2;
    if (n === 0) return null;
    const bytes = n * 8;
    const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'timestamps' });
    const readable = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'timestamps (read back)' });
    rec.sets.forEach((set, i) => {
      const count = Math.min(QUERIES_PER_SET, n - i * QUERIES_PER_SET);
      encoder.resolveQuerySet(set, 0, count, resolved, i * QUERIES_PER_SET * 8);
    });
    encoder.copyBufferToBuffer(resolved, 0, readable, 0, bytes);
    return { resolved, readable };
  }

  /** Once the recorder's command buffer is submitted: reads its timestamps back when the GPU has run it. */
  submitted(rec: ProfileRecording, timestamps: ResolvedTimestamps | null): void {
    const sets = rec.sets.splice(0);
    const kernels = rec.kernels.splice(0);
    if (!timestamps) return;
    const { resolved, readable } = timestamps;
    resolved.destroy();
    this.pending.push(
      readable.mapAsync(GPUMapMode.READ).then(() => {
        const stamps = new BigInt64Array(readable.getMappedRange());
        // A driver may write 0 for a pass it could not time; such a pass counts, with no time.
        const times = kernels.map((kernel, i): [string, number] => [kernel, Math.max(0, Number(stamps[2 * i + 1] - stamps[2 * i]))]);
        readable.unmap();
        readable.destroy();
        for (const set of sets) set.destroy();
        return times;
      }),
    );
  }

  /**
   * The time per kernel of the recordings submitted since the last drain (those submitted later are left for the
   * next), longest first.
   */
  async drain(): Promise<KernelTime[]> {
    const totals = new Map<string, KernelTime>();
    for (const times of await Promise.all(this.pending.splice(0))) {
      for (const [kernel, ns] of times) {
        const t = totals.get(kernel) ?? { kernel, ms: 0, dispatches: 0 };
        t.ms += ns / 1e6;
        t.dispatches++;
        totals.set(kernel, t);
      }
    }
    return [...totals.values()].sort((a, b) => b.ms - a.ms);
  }
}
