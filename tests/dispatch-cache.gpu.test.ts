/** The dispatch cache: bind groups and uniforms reused across command recorders, eviction, pooled scratch. */
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/device';
import { DispatchCache, countersSince } from '../src/gpu/dispatch-cache';
import { readFloat32, uploadStorage, UniformWriter } from '../src/gpu/buffers';
import type { PipelineSpec } from '../src/gpu/pipeline-cache';
import { CommandRecorder } from '../src/kernels/dispatch';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const N = 8;
const X = Float32Array.from({ length: N }, (_, i) => i + 1);

/** y[i] += x[i]·scale: a second run that really computes shows in y. */
const AXPY: PipelineSpec = {
  name: 'test_axpy',
  code: /* wgsl */ `
struct Params { n: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < p.n) { y[id.x] += x[id.x] * p.scale; }
}`,
  storage: ['read', 'write'],
};

function axpy(rec: CommandRecorder, x: GPUBuffer, y: GPUBuffer, scale: number): void {
  rec.dispatch({ label: 'axpy', pipeline: AXPY, uniform: new UniformWriter(2).u32(N).f32(scale).buffer, buffers: [x, y], workgroups: [1] });
}

/** Records `body` in a new recorder on `gpu` and submits it. */
function record(gpu: GpuContext, body: (rec: CommandRecorder) => void): void {
  const rec = new CommandRecorder(gpu, 'dispatch cache test');
  body(rec);
  rec.submit();
}

/** A context whose dispatch cache evicts sooner than the default one. */
function withCache(options: ConstructorParameters<typeof DispatchCache>[1]): GpuContext {
  return { ...ctx.gpu, dispatchCache: new DispatchCache(ctx.gpu.device, options) };
}

/** The uniform buffers `gpu`'s device creates while `body` runs. */
function uniformsCreatedBy(gpu: GpuContext, body: () => void): GPUBuffer[] {
  const device = gpu.device;
  const created: GPUBuffer[] = [];
  const createBuffer = device.createBuffer;
  device.createBuffer = (descriptor: GPUBufferDescriptor) => {
    const b = createBuffer.call(device, descriptor);
    if (descriptor.usage & GPUBufferUsage.UNIFORM) created.push(b);
    return b;
  };
  try {
    body();
  } finally {
    device.createBuffer = createBuffer;
  }
  return created;
}

/** Whether WebGPU refuses a write to `buffer` because it was destroyed; the write is empty, so a live buffer keeps its bytes. */
async function isDestroyed(device: GPUDevice, buffer: GPUBuffer): Promise<boolean> {
  device.pushErrorScope('validation');
  device.queue.writeBuffer(buffer, 0, new Uint32Array(0));
  const error = await device.popErrorScope();
  if (error && !/destroyed/i.test(error.message)) throw new Error(`unexpected validation error: ${error.message}`);
  return error !== null;
}

describe('dispatch cache', () => {
  it('reuses the bind group of the same dispatch in a later recorder, and computes the same', async () => {
    const gpu = withCache({});
    const d = gpu.device;
    const x = uploadStorage(d, X, 'x');
    const y = uploadStorage(d, new Float32Array(N), 'y');
    const before = gpu.dispatchCache.counters;
    record(gpu, (rec) => axpy(rec, x, y, 0.5));
    expect(countersSince(gpu.dispatchCache.counters, before)).toMatchObject({ hits: 0, misses: 1, uniformBytesCreated: 16 });
    expect(Array.from(await readFloat32(d, y, N))).toEqual(Array.from(X, (v) => v * 0.5));
    record(gpu, (rec) => axpy(rec, x, y, 0.5));
    expect(countersSince(gpu.dispatchCache.counters, before)).toMatchObject({ hits: 1, misses: 1, submits: 2 });
    expect(Array.from(await readFloat32(d, y, N))).toEqual(Array.from(X, (v) => v * 1));
    expect(gpu.dispatchCache.held).toEqual({ entries: 1, uniformBytes: 16, scratchBytes: 0 });
  });

  it('misses on a changed uniform, another buffer or another pipeline', async () => {
    const gpu = withCache({});
    const d = gpu.device;
    const x = uploadStorage(d, X, 'x');
    const x2 = uploadStorage(d, X, 'x2');
    const y = uploadStorage(d, new Float32Array(N), 'y');
    const twice: PipelineSpec = { ...AXPY, code: `${AXPY.code}\n// another shader text` };
    record(gpu, (rec) => axpy(rec, x, y, 1));
    const before = gpu.dispatchCache.counters;
    record(gpu, (rec) => {
      axpy(rec, x, y, 2);
      axpy(rec, x2, y, 1);
      rec.dispatch({ label: 'axpy 2', pipeline: twice, uniform: new UniformWriter(2).u32(N).f32(1).buffer, buffers: [x, y], workgroups: [1] });
    });
    expect(countersSince(gpu.dispatchCache.counters, before)).toMatchObject({ hits: 0, misses: 3 });
    expect(Array.from(await readFloat32(d, y, N))).toEqual(Array.from(X, (v) => v * 5));
  });

  it('destroys the uniform buffers of entries idle for maxIdleSubmits submits', async () => {
    const gpu = withCache({ maxIdleSubmits: 2 });
    const d = gpu.device;
    const x = uploadStorage(d, X, 'x');
    const y = uploadStorage(d, new Float32Array(N), 'y');
    const [kept, idle] = uniformsCreatedBy(gpu, () => record(gpu, (rec) => (axpy(rec, x, y, 1), axpy(rec, x, y, 2))));
    const before = gpu.dispatchCache.counters;
    for (let i = 0; i < 3; i++) record(gpu, (rec) => axpy(rec, x, y, 1));
    expect(countersSince(gpu.dispatchCache.counters, before)).toMatchObject({ hits: 3, misses: 0, evicted: 1 });
    expect(await isDestroyed(d, idle)).toBe(true);
    expect(await isDestroyed(d, kept)).toBe(false);
    expect(gpu.dispatchCache.held).toMatchObject({ entries: 1, uniformBytes: 16 });
  });

  it('keeps at most maxEntries entries, dropping the least recently used', async () => {
    const gpu = withCache({ maxEntries: 2 });
    const d = gpu.device;
    const x = uploadStorage(d, X, 'x');
    const y = uploadStorage(d, new Float32Array(N), 'y');
    const uniforms = uniformsCreatedBy(gpu, () => record(gpu, (rec) => [1, 2, 3].forEach((s) => axpy(rec, x, y, s))));
    expect(gpu.dispatchCache.held.entries).toBe(2);
    expect(await Promise.all(uniforms.map((u) => isDestroyed(d, u)))).toEqual([true, false, false]);
    const before = gpu.dispatchCache.counters;
    record(gpu, (rec) => (axpy(rec, x, y, 2), axpy(rec, x, y, 3)));
    expect(countersSince(gpu.dispatchCache.counters, before)).toMatchObject({ hits: 2, misses: 0 });
  });

  it('drops the entries of a destroyed storage buffer at once', async () => {
    const gpu = withCache({});
    const d = gpu.device;
    const x = uploadStorage(d, X, 'x');
    const y = uploadStorage(d, new Float32Array(N), 'y');
    const other = uploadStorage(d, new Float32Array(N), 'other');
    const [gone] = uniformsCreatedBy(gpu, () => record(gpu, (rec) => (axpy(rec, x, y, 1), axpy(rec, x, other, 1))));
    expect(gpu.dispatchCache.held.entries).toBe(2);
    y.destroy();
    expect(gpu.dispatchCache.held).toMatchObject({ entries: 1, uniformBytes: 16 });
    expect(await isDestroyed(d, gone)).toBe(true);
    expect(await isDestroyed(d, y)).toBe(true);
  });

  it('keeps an evicted uniform alive until the recorder that used it submits', async () => {
    const gpu = withCache({ maxEntries: 0 });
    const d = gpu.device;
    const x = uploadStorage(d, X, 'x');
    const y = uploadStorage(d, new Float32Array(N), 'y');
    const open = new CommandRecorder(gpu, 'still recording');
    const [uniform] = uniformsCreatedBy(gpu, () => axpy(open, x, y, 3));
    record(gpu, () => {}); // evicts everything
    expect(gpu.dispatchCache.held.entries).toBe(0);
    expect(await isDestroyed(d, uniform)).toBe(false);
    d.pushErrorScope('validation');
    open.submit();
    expect(await d.popErrorScope()).toBeNull();
    expect(Array.from(await readFloat32(d, y, N))).toEqual(Array.from(X, (v) => v * 3));
    expect(await isDestroyed(d, uniform)).toBe(true);
  });

  it('pools scratch buffers by size and hands them out zero-filled again', async () => {
    const gpu = withCache({});
    const d = gpu.device;
    const x = uploadStorage(d, X, 'x');
    const out = uploadStorage(d, new Float32Array(N), 'out');
    const scratches: GPUBuffer[] = [];
    /** scratch += x·2, then copied out: the scratch must start at zero for out to be x·2. */
    const step = async () => {
      record(gpu, (rec) => {
        const s = rec.scratch(N * 4, 'scratch');
        scratches.push(s);
        axpy(rec, x, s, 2);
        rec.encoder.copyBufferToBuffer(s, 0, out, 0, N * 4);
      });
      return Array.from(await readFloat32(d, out, N));
    };
    const before = gpu.dispatchCache.counters;
    expect(await step()).toEqual(Array.from(X, (v) => v * 2));
    expect(await step()).toEqual(Array.from(X, (v) => v * 2));
    expect(scratches[1]).toBe(scratches[0]);
    expect(countersSince(gpu.dispatchCache.counters, before)).toMatchObject({ scratchCreated: 1, scratchReused: 1, hits: 1, misses: 1 });
    expect(gpu.dispatchCache.held.scratchBytes).toBe(N * 4);
  });

  it('gives a recorder distinct scratch buffers while earlier ones are still taken', () => {
    const gpu = withCache({});
    const rec = new CommandRecorder(gpu, 'two scratches');
    const a = rec.scratch(64, 'a');
    const b = rec.scratch(64, 'b');
    rec.submit();
    expect(a).not.toBe(b);
  });

  it('destroys pooled scratch buffers idle for maxIdleSubmits submits', async () => {
    const gpu = withCache({ maxIdleSubmits: 1 });
    let s: GPUBuffer | undefined;
    record(gpu, (rec) => (s = rec.scratch(64, 'idle scratch')));
    record(gpu, () => {});
    expect(await isDestroyed(gpu.device, s!)).toBe(false);
    record(gpu, () => {});
    expect(await isDestroyed(gpu.device, s!)).toBe(true);
    expect(gpu.dispatchCache.held.scratchBytes).toBe(0);
  });

  it('refuses options that are not non-negative integers, naming them', () => {
    expect(() => new DispatchCache(ctx.gpu.device, { maxEntries: -1 })).toThrow(/maxEntries must be a non-negative integer, got -1/);
    expect(() => new DispatchCache(ctx.gpu.device, { maxIdleSubmits: 1.5 })).toThrow(/maxIdleSubmits/);
  });
});
