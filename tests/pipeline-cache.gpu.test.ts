/**
 * The pipeline cache's collecting mode and concurrent compiles (what the trainer's first step uses): a step
 * recorded while collecting dispatches nothing and lists the pipelines it lacks; compileAll compiles those
 * asynchronously, after which the step records without compiling, and computes.
 */
import { describe, expect, it } from 'vitest';
import { readFloat32, uploadStorage, UniformWriter } from '../src/gpu/buffers';
import { pipelineKey, type PipelineCache, type PipelineSpec, type PipelineUse } from '../src/gpu/pipeline-cache';
import { CommandRecorder } from '../src/kernels/dispatch';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const N = 8;

/** y[i] = y[i]·MUL + ADD, one pipeline per pair of override constants. */
function affine(mul: number, add: number): PipelineSpec {
  return {
    name: 'test_affine',
    code: /* wgsl */ `
override MUL: f32 = 1.0;
override ADD: f32 = 0.0;
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < p.n) { y[id.x] = y[id.x] * MUL + ADD; }
}`,
    constants: { MUL: mul, ADD: add },
    storage: ['write'],
  };
}

/** A "step": y ← (y·2 + 1)·3, then +5 through the first pipeline's twin. */
function step(y: GPUBuffer): void {
  const rec = new CommandRecorder(ctx.gpu, 'pipeline cache test');
  for (const [mul, add] of [[2, 1], [3, 0], [1, 5]]) {
    rec.dispatch({ label: `affine ${mul} ${add}`, pipeline: affine(mul, add), uniform: new UniformWriter(1).u32(N).buffer, buffers: [y], workgroups: [1] });
  }
  rec.submit();
}

function watch(cache: PipelineCache): { uses: PipelineUse[]; stop: () => void } {
  const uses: PipelineUse[] = [];
  return { uses, stop: cache.observe((u) => uses.push(u)) };
}

describe('pipeline cache: collecting, then compiling all at once', () => {
  it('collects the missing pipelines without dispatching, compiles them asynchronously, then the step runs on cache hits', async () => {
    const { device, pipelines } = ctx.gpu;
    const y = uploadStorage(device, Float32Array.from({ length: N }, (_, i) => i), 'y');
    // One of the three is compiled already: it is not collected again.
    pipelines.get(affine(1, 5));
    const compiledBefore = pipelines.compiled;

    const specs = await pipelines.collectPipelines(async () => step(y));
    expect(specs.map(pipelineKey).sort()).toEqual([affine(2, 1), affine(3, 0)].map(pipelineKey).sort());
    // Nothing ran: y still holds 0..7.
    expect(Array.from(await readFloat32(device, y, N))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(pipelines.compiled).toBe(compiledBefore);

    const w = watch(pipelines);
    await pipelines.compileAll([...specs, ...specs]); // duplicates compile once
    expect(pipelines.compiled).toBe(compiledBefore + 2);
    expect(w.uses.filter((u) => u.compiled).map((u) => u.key).sort()).toEqual(specs.map(pipelineKey).sort());
    w.uses.length = 0;

    step(y);
    w.stop();
    expect(w.uses.every((u) => !u.compiled)).toBe(true);
    expect(pipelines.compiled).toBe(compiledBefore + 2);
    expect(Array.from(await readFloat32(device, y, N))).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((v) => (v * 2 + 1) * 3 + 5));
    ctx.gpu.assertHealthy();
  });

  it('refuses to collect inside a collection, and records normally once collecting ends, even after an error', async () => {
    const { pipelines } = ctx.gpu;
    await expect(pipelines.collectPipelines(async () => {
      await expect(pipelines.collectPipelines(async () => {})).rejects.toThrow(/already being collected/);
      throw new Error('the dry run failed');
    })).rejects.toThrow('the dry run failed');
    expect(pipelines.collect(affine(7, 7))).toBe(false);
  });
});
