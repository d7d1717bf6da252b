/**
 * Compute pipelines cached by a key built from every specialization parameter: the shader's name, its
 * override constants and its bind group layout. Compiling a tiled shader takes about a second on SwiftShader,
 * so each distinct specialization is compiled once per device.
 */

export interface PipelineSpec {
  /** Name of the kernel, e.g. "linear_forward". Part of the key. */
  name: string;
  /** Full WGSL source. Its text is part of the key too, so templated variants never collide. */
  code: string;
  entryPoint?: string;
  /** WGSL `override` constants. */
  constants?: Record<string, number>;
  /** Storage binding access, in binding order: 'read' | 'write' (read-write). Binding 0 is always the uniform. */
  storage: ReadonlyArray<'read' | 'write'>;
}

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

export function pipelineKey(spec: PipelineSpec): string {
  const constants = Object.entries(spec.constants ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${spec.name}|${spec.entryPoint ?? 'main'}|${constants}|${spec.storage.join(',')}|${hashString(spec.code)}`;
}

/** FNV-1a, enough to tell shader texts apart inside a key. */
function hashString(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}

/** One request for a pipeline: whether it had to be compiled, and how long that took. */
export interface PipelineUse {
  key: string;
  compiled: boolean;
  ms: number;
}

export class PipelineCache {
  private readonly entries = new Map<string, CachedPipeline>();
  private readonly observers = new Set<(use: PipelineUse) => void>();
  private readonly modules = new Map<string, GPUShaderModule>();
  private collecting: Map<string, PipelineSpec> | null = null;
  /** Fast variants of tiered kernels waiting to compile in the background, by key; and those under way. */
  private readonly deferred = new Map<string, PipelineSpec>();
  private readonly upgrading = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Holds (holdDeferred) that keep the deferred compiles from starting. */
  private holds = 0;
  /** Background compiles that failed: their kernels stay on the interim variant. */
  readonly deferredFailures: { key: string; error: Error }[] = [];
  /** Number of pipelines compiled so far; tests use it to see that the cache hits. */
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.entries.size;
  }

  /** Calls `observer` on every request until the returned function is called (progress of a first step's compiles). */
  observe(observer: (use: PipelineUse) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  get(spec: PipelineSpec): CachedPipeline {
    const key = pipelineKey(spec);
    const hit = this.entries.get(key);
    if (hit) {
      if (this.observers.size > 0) for (const o of this.observers) o({ key, compiled: false, ms: 0 });
      return hit;
    }
    const t0 = performance.now();
    const { layout, descriptor } = this.describe(key, spec);
    return this.store(key, { pipeline: this.device.createComputePipeline(descriptor), layout }, t0);
  }

  /**
   * Runs `body` (which records a step as usual) in collecting mode: every dispatch is checked but neither encoded
   * nor run (CommandRecorder.dispatch asks `collect`), and the pipelines it would have needed that are not compiled
   * yet are returned. Nothing else may record on this device meanwhile: its dispatches would be dropped too.
   */
  async collectPipelines(body: () => Promise<void>): Promise<PipelineSpec[]> {
    if (this.collecting) throw new Error('internal: pipelines are already being collected on this device');
    const collected = new Map<string, PipelineSpec>();
    this.collecting = collected;
    try {
      await body();
    } finally {
      this.collecting = null;
    }
    return [...collected.values()];
  }

  /** True in collecting mode, after noting `spec` if it is not compiled yet: the dispatch is then skipped. */
  collect(spec: PipelineSpec): boolean {
    if (!this.collecting) return false;
    const key = pipelineKey(spec);
    if (!this.entries.has(key)) this.collecting.set(key, spec);
    return true;
  }

  /**
   * Compiles the pipelines of `specs` not yet in the cache, all at once with createComputePipelineAsync: a browser
   * compiles them on its GPU process's worker threads, several in parallel and beside the page's own work. Each
   * compile is reported to the observers as it finishes.
   */
  async compileAll(specs: readonly PipelineSpec[]): Promise<void> {
    // Each compile is reported with the time since the previous one finished, so that the times add up to the
    // wall-clock time of the whole batch rather than count the parallel compiles several times over.
    let last = performance.now();
    const pending = new Map<string, PipelineSpec>();
    for (const spec of specs) {
      const key = pipelineKey(spec);
      if (!this.entries.has(key)) pending.set(key, spec);
    }
    await Promise.all(
      [...pending].map(async ([key, spec]) => {
        const { layout, descriptor } = this.describe(key, spec);
        const pipeline = await this.device.createComputePipelineAsync(descriptor);
        // A synchronous get() may have compiled the same pipeline meanwhile; the first one stays.
        if (!this.entries.has(key)) this.store(key, { pipeline, layout }, last);
        last = performance.now();
      }),
    );
  }

  /**
   * The variant to record now of a kernel with a fast variant that is slow to compile and an interim one that is
   * quick to compile and computes the same values bit for bit (the direct matmuls: fewer rows per thread). While a
   * first step holds the background compiles (holdDeferred), and until `fast` has compiled in the background, it
   * is `interim`, and `fast` is queued to compile in the background (startDeferred): a run's first step waits only
   * for the quick compiles, and later steps get the fast kernels without waiting for them. Otherwise (kernel
   * tests, generation, scoring) it is `fast`, compiled at first use as any pipeline.
   */
  tiered(fast: PipelineSpec, interim: PipelineSpec): PipelineSpec {
    const key = pipelineKey(fast);
    if (this.entries.has(key)) return fast;
    if (this.upgrading.has(key)) return interim;
    if (this.holds === 0) return fast;
    this.deferred.set(key, fast);
    return interim;
  }

  /** Keeps the queued background compiles from starting until the returned function is called (a first step). */
  holdDeferred(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.startDeferred();
    };
  }

  /** Starts compiling the queued fast variants in the background, unless held or collecting; command recorders call it when they submit. */
  startDeferred(): void {
    if (this.holds > 0 || this.collecting || this.deferred.size === 0) return;
    // As in compileAll, each is reported with the time since the previous one of the batch finished.
    let last = performance.now();
    for (const [key, spec] of this.deferred) {
      this.upgrading.add(key);
      const { layout, descriptor } = this.describe(key, spec);
      const compile = this.device.createComputePipelineAsync(descriptor).then(
        (pipeline) => {
          if (!this.entries.has(key)) this.store(key, { pipeline, layout }, last);
          last = performance.now();
        },
        (error: unknown) => {
          this.deferredFailures.push({ key, error: error instanceof Error ? error : new Error(String(error)) });
        },
      );
      this.inFlight.add(compile);
      void compile.finally(() => {
        this.inFlight.delete(compile);
        this.upgrading.delete(key);
      });
    }
    this.deferred.clear();
  }

  /** Resolves once the background compiles started so far have finished (benchmarks measure steady steps after it). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /** The shader module (shared by the variants of one source), bind group layout and pipeline descriptor of `spec`. */
  private describe(key: string, spec: PipelineSpec): { layout: GPUBindGroupLayout; descriptor: GPUComputePipelineDescriptor } {
    const codeKey = `${spec.name}|${hashString(spec.code)}`;
    let module = this.modules.get(codeKey);
    if (!module) {
      module = this.device.createShaderModule({ code: spec.code, label: spec.name });
      this.modules.set(codeKey, module);
    }
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      ...spec.storage.map(
        (access, i): GPUBindGroupLayoutEntry => ({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: access === 'read' ? 'read-only-storage' : 'storage' },
        }),
      ),
    ];
    const layout = this.device.createBindGroupLayout({ entries, label: `${spec.name} layout` });
    return {
      layout,
      descriptor: {
        label: key,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: spec.entryPoint ?? 'main', constants: spec.constants ?? {} },
      },
    };
  }

  /** Caches a compiled pipeline and tells the observers, with the time since `t0`. */
  private store(key: string, entry: CachedPipeline, t0: number): CachedPipeline {
    this.compiled++;
    this.entries.set(key, entry);
    if (this.observers.size > 0) {
      const ms = performance.now() - t0;
      for (const o of this.observers) o({ key, compiled: true, ms });
    }
    return entry;
  }
}
