/**
 * The pipeline cache's collecting mode and concurrent compiles (what the trainer's first step uses): a step
 * recorded while collecting dispatches nothing and lists the pipelines it lacks; compileAll compiles those
 * asynchronously, after which the step records without compiling, and computes.
 */
import { describe, expect, it } from 'vitest';
import { readFloat32, uploadStorage, UniformWriter } from '../src/gpu/buffers';
import { pipelineKey, type PipelineCache, type PipelineSpec, type PipelineUse } from '../src/gpu/pipeline-cache';
import { CommandRecorder } from '../src/kernels/dispatch';
import { uploadWeight } from '../src/kernels/gpu-weight';
import { encodeLinearBackwardInput, encodeLinearForward, INTERIM_ROWS } from '../src/kernels/linear';
import { packWeight } from '../src/kernels/quantize';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { randomUniform } from '../src/util/random';
import { useGpu, withKernelProfile } from './helpers/gpu';

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

describe('tiered kernels: the direct matmuls start on their interim variant', () => {
  withKernelProfile(ctx, 'direct');

  it('in a first step, records the interim variant until the fast one has compiled in the background, with the same values bit for bit', async () => {
    const { device, pipelines } = ctx.gpu;
    // 70 rows (> 8: the full variants have 32 and 16 rows per thread), ragged K and N.
    const M = 70;
    const K = 136;
    const N = 72;
    const w0 = uploadWeight(device, packWeight(randomUniform(N * K, 3, -0.2, 0.2), N, K, 'f32', 'linear'), 'tiered W0');
    const x = tensorFrom(device, randomUniform(M * K, 4), [M, K], 'x');
    const dy = tensorFrom(device, randomUniform(M * N, 5), [M, N], 'dy');
    const run = async (held: boolean): Promise<{ y: Float32Array; dx: Float32Array; rows: number[] }> => {
      const y = zerosTensor(device, [M, N], 'y');
      const dx = zerosTensor(device, [M, K], 'dx');
      const w = watch(pipelines);
      // A trainer's first step: the fast variants wait until it is done.
      const release = held ? pipelines.holdDeferred() : () => {};
      const rec = new CommandRecorder(ctx.gpu, 'tiered test');
      encodeLinearForward(rec, { x, w0, y });
      encodeLinearBackwardInput(rec, { dy, w0, dx });
      rec.submit();
      w.stop();
      const rows = w.uses.map((u) => Number(/ROWS=(\d+)/.exec(u.key)![1]));
      const out = { y: await readTensor(device, y), dx: await readTensor(device, dx), rows };
      release();
      return out;
    };

    const first = await run(true);
    expect(first.rows).toEqual([INTERIM_ROWS.forward, INTERIM_ROWS.backward]);
    // Released: the fast variants compile in the background, and steps meanwhile keep to the interim ones.
    expect((await run(false)).rows).toEqual([INTERIM_ROWS.forward, INTERIM_ROWS.backward]);
    await pipelines.settled();
    const second = await run(false);
    expect(second.rows).toEqual([32, 16]);
    expect(pipelines.deferredFailures).toEqual([]);
    // Same sums in the same order: identical bits, not just close values.
    expect(Buffer.from(second.y.buffer).equals(Buffer.from(first.y.buffer))).toBe(true);
    expect(Buffer.from(second.dx.buffer).equals(Buffer.from(first.dx.buffer))).toBe(true);
    expect(first.y.some((v) => v !== 0) && first.dx.some((v) => v !== 0)).toBe(true);
  });
});

describe('tiered kernels outside a first step', () => {
  withKernelProfile(ctx, 'direct');

  it('record the fast variant at once when no first step holds the background compiles', async () => {
    const { device, pipelines } = ctx.gpu;
    const w0 = uploadWeight(device, packWeight(randomUniform(24 * 40, 6), 24, 40, 'q8', 'linear'), 'W0');
    // Collecting lists what a step would record, without compiling it.
    const specs = await pipelines.collectPipelines(async () => {
      const rec = new CommandRecorder(ctx.gpu, 'not tiered');
      encodeLinearForward(rec, { x: zerosTensor(device, [33, 40], 'x'), w0, y: zerosTensor(device, [33, 24], 'y') });
      rec.submit();
    });
    expect(specs.map((spec) => spec.constants?.ROWS)).toEqual([32]);
  });
});
