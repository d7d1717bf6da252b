/**
 * The benchmarks' GPU profiler: GPU time summed by kernel name, from timestamp queries or, where an adapter has
 * none, from replaying each dispatch alone; a discarded warm-up leaves nothing behind.
 */
import { describe, expect, it } from 'vitest';
import { readFloat32, uploadStorage, UniformWriter } from '../src/gpu/buffers';
import type { GpuContext } from '../src/gpu/device';
import { GpuProfiler, type ProfileMethod } from '../src/gpu/gpu-profiler';
import type { PipelineSpec } from '../src/gpu/pipeline-cache';
import { CommandRecorder } from '../src/kernels/dispatch';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();

/** y[0] += 1 from one thread, after `spin` iterations of busy work: a kernel whose runs can be counted and sized. */
function counter(name: string): PipelineSpec {
  return {
    name,
    code: /* wgsl */ `
struct Params { spin: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(1) fn main() {
  var a = 0.0;
  for (var i = 0u; i < p.spin; i++) { a = a * 0.5 + f32(i & 7u); }
  y[0] += 1.0 + min(a, 0.0);
}`,
    storage: ['write'],
  };
}

function profiled(method: ProfileMethod): GpuContext {
  return { ...ctx.gpu, profiler: GpuProfiler.create(ctx.gpu.device, method) };
}

/** Three light dispatches and one heavy one, in one recorder; returns the buffer they count into. */
function record(gpu: GpuContext): GPUBuffer {
  const y = uploadStorage(gpu.device, new Float32Array(1), 'count');
  const rec = new CommandRecorder(gpu, 'profiler test');
  const run = (spec: PipelineSpec, spin: number) =>
    rec.dispatch({ label: spec.name, pipeline: spec, uniform: new UniformWriter(1).u32(spin).buffer, buffers: [y], workgroups: [1] });
  for (let i = 0; i < 3; i++) run(counter('light'), 1);
  run(counter('heavy'), 2_000_000);
  rec.submit();
  return y;
}

describe.each(['timestamps', 'replay'] as const)('GpuProfiler (%s)', (method) => {
  it('sums GPU time by kernel, counts the dispatches, and puts the longest first', async () => {
    const gpu = profiled(method);
    const y = record(gpu);
    const times = await gpu.profiler!.drain();
    expect(times.map((t) => [t.kernel, t.dispatches])).toEqual([['heavy', 1], ['light', 3]]);
    expect(times[0].ms).toBeGreaterThan(times[1].ms);
    expect(times[1].ms).toBeGreaterThanOrEqual(0);
    // Replays run every dispatch again, 3 times each: 4 dispatches counted 1 + 3 more times.
    expect((await readFloat32(gpu.device, y, 1))[0]).toBe(method === 'replay' ? 16 : 4);
    expect(await gpu.profiler!.drain()).toEqual([]);
  });

  it('discards a warm-up without timing or replaying it', async () => {
    const gpu = profiled(method);
    const y = record(gpu);
    gpu.profiler!.discard();
    expect(await gpu.profiler!.drain()).toEqual([]);
    expect((await readFloat32(gpu.device, y, 1))[0]).toBe(4);
  });
});
