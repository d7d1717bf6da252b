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
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: spec.entryPoint ?? 'main', constants: spec.constants ?? {} },
    });
    this.compiled++;
    const entry = { pipeline, layout };
    this.entries.set(key, entry);
    if (this.observers.size > 0) {
      const ms = performance.now() - t0;
      for (const o of this.observers) o({ key, compiled: true, ms });
    }
    return entry;
  }
}
