/**
 * GPU time per kernel, summed by kernel name. Benchmarks switch it on (`GpuContext.profiler`); the studio never
 * does, so no step pays for it. Two methods:
 * - 'timestamps' (the `timestamp-query` feature): each compute pass a command recorder begins writes a timestamp
 *   at its start and end. Browsers quantize timestamps (to 100 µs in Chromium unless its developer features are
 *   on), so short kernels read as 0 or 100 µs there; under Node (Dawn) they are exact.
 * - 'replay', for adapters without the feature: every dispatch is kept (pipeline, bind group, grid), and `drain`
 *   runs each one again alone, REPLAYS times, in a command buffer of its own, timing it from submit to
 *   onSubmittedWorkDone and keeping the fastest. That includes a submit's fixed cost, so small kernels read
 *   high; and the replays write the step's buffers again, so drain only after the run's results are read.
 */

export type ProfileMethod = 'timestamps' | 'replay';

/** One dispatch as recorded, to be run again ('replay'). */
interface RecordedDispatch {
  kernel: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: readonly [number, number, number];
}

/** What one command recorder wrote: its query sets and, per dispatch, the kernel it ran (and, for 'replay', the dispatch). */
export interface ProfileRecording {
  readonly sets: GPUQuerySet[];
  readonly kernels: string[];
  readonly dispatches: RecordedDispatch[];
}

const REPLAYS = 3;

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
  /** Per submitted recording: the GPU nanoseconds of each of its dispatches, once read back (or replayed). */
  private pending: (() => Promise<Array<[kernel: string, ns: number]>>)[] = [];

  private constructor(
    private readonly device: GPUDevice,
    readonly method: ProfileMethod,
  ) {}

  /** A profiler for `device`: timestamps where the device has `timestamp-query`, replays otherwise (or when asked). */
  static create(device: GPUDevice, method?: ProfileMethod): GpuProfiler {
    if (method === 'timestamps' && !device.features.has('timestamp-query')) throw new Error('this device was created without the timestamp-query feature');
    return new GpuProfiler(device, method ?? (device.features.has('timestamp-query') ? 'timestamps' : 'replay'));
  }

  begin(): ProfileRecording {
    return { sets: [], kernels: [], dispatches: [] };
  }

  /**
   * Notes the next dispatch of `rec`, which runs `kernel`, before its compute pass begins; returns the pass's
   * timestamp writes ('timestamps') or keeps the dispatch to replay it ('replay').
   */
  dispatching(rec: ProfileRecording, kernel: string, dispatch: Omit<RecordedDispatch, 'kernel'>): GPUComputePassTimestampWrites | undefined {
    if (this.method === 'replay') {
      rec.dispatches.push({ kernel, ...dispatch });
      return undefined;
    }
    const index = rec.kernels.length;
    const slot = (index * 2) % QUERIES_PER_SET;
    if (slot === 0) rec.sets.push(this.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET, label: 'kernel timestamps' }));
    rec.kernels.push(kernel);
    return { querySet: rec.sets[rec.sets.length - 1], beginningOfPassWriteIndex: slot, endOfPassWriteIndex: slot + 1 };
  }

  /** Records, at the end of `encoder`, the copy of the recording's timestamps to a buffer the host can read. */
  resolve(rec: ProfileRecording, encoder: GPUCommandEncoder): ResolvedTimestamps | null {
    if (this.method === 'replay') return null;
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
    const dispatches = rec.dispatches.splice(0);
    if (this.method === 'replay') {
      this.pending.push(() => this.replay(dispatches));
      return;
    }
    if (!timestamps) return;
    const { resolved, readable } = timestamps;
    resolved.destroy();
    const times = readable.mapAsync(GPUMapMode.READ).then(() => {
        const stamps = new BigInt64Array(readable.getMappedRange());
        // A driver may write 0 for a pass it could not time; such a pass counts, with no time.
        const times = kernels.map((kernel, i): [string, number] => [kernel, Math.max(0, Number(stamps[2 * i + 1] - stamps[2 * i]))]);
        readable.unmap();
        readable.destroy();
        for (const set of sets) set.destroy();
        return times;
      });
    this.pending.push(() => times);
  }

  /** Runs each dispatch alone, REPLAYS times, and keeps its fastest time. */
  private async replay(dispatches: RecordedDispatch[]): Promise<Array<[string, number]>> {
    const out: Array<[string, number]> = [];
    for (const d of dispatches) {
      let best = Infinity;
      for (let i = 0; i < REPLAYS; i++) {
        const t0 = performance.now();
        const encoder = this.device.createCommandEncoder({ label: `replay ${d.kernel}` });
        const pass = encoder.beginComputePass({ label: d.kernel });
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(...d.workgroups);
        pass.end();
        this.device.queue.submit([encoder.finish()]);
        await this.device.queue.onSubmittedWorkDone();
        best = Math.min(best, performance.now() - t0);
      }
      out.push([d.kernel, best * 1e6]);
    }
    return out;
  }

  /** Forgets what was recorded since the last drain, without reading or replaying it (a warm-up step). */
  discard(): void {
    this.pending = [];
  }

  /**
   * The time per kernel of the recordings submitted since the last drain (those submitted later are left for the
   * next), longest first.
   */
  async drain(): Promise<KernelTime[]> {
    const totals = new Map<string, KernelTime>();
    const jobs = this.pending.splice(0);
    // One at a time: replays must not overlap one another.
    const results: Array<Array<[string, number]>> = [];
    for (const job of jobs) results.push(await job());
    for (const times of results) {
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
