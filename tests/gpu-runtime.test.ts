/** The GPU runtime: device acquisition under Node, the pipeline cache, limit checks, shape errors, loss. */
import { describe, expect, it } from 'vitest';
import { acquireGpu, describeAdapter, pickAdapter, withErrorScopes } from '../src/gpu/device';
import { DeviceLostError, GpuLimitError, GpuOperationError, ShapeError, WebGpuUnavailableError } from '../src/gpu/errors';
import { acquireNodeGpu, getNodeGpu } from '../src/gpu/node-gpu';
import { pipelineKey } from '../src/gpu/pipeline-cache';
import { CommandRecorder, checkBindingSize, checkWorkgroups, grid1d } from '../src/kernels/dispatch';
import { uploadWeight } from '../src/kernels/gpu-weight';
import { encodeLinearForward } from '../src/kernels/linear';
import { encodeLoraLinearForward } from '../src/kernels/lora-linear';
import { packWeight } from '../src/kernels/quantize';
import { tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { randomUniform } from '../src/util/random';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();

describe('device acquisition', () => {
  it('finds an adapter under Node and reports it', () => {
    const report = ctx.gpu.report;
    expect(report.vendor.length).toBeGreaterThan(0);
    expect(report.architecture.length).toBeGreaterThan(0);
    expect(report.shaderF16).toBe(ctx.gpu.adapter.features.has('shader-f16'));
    expect(report.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
  });

  it('requests limits above the defaults only up to what the adapter offers', () => {
    const { adapter, device } = ctx.gpu;
    expect(device.limits.maxStorageBufferBindingSize).toBe(adapter.limits.maxStorageBufferBindingSize);
    expect(device.limits.maxComputeWorkgroupStorageSize).toBe(adapter.limits.maxComputeWorkgroupStorageSize);
    expect(device.limits.maxStorageBuffersPerShaderStage).toBe(adapter.limits.maxStorageBuffersPerShaderStage);
  });

  it('says what to do when there is no WebGPU', async () => {
    await expect(acquireGpu(undefined)).rejects.toThrow(WebGpuUnavailableError);
    await expect(acquireGpu(undefined)).rejects.toThrow(/WebGPU is not available/);
  });

  it('says so when no adapter is found', async () => {
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    await expect(acquireGpu(noAdapter)).rejects.toThrow(/returned no adapter/);
  });

  it('picks the fastest adapter: a compatibility-level GPU over a CPU fallback, never the other way', async () => {
    const fake = (vendor: string, fallback: boolean) => ({ info: { vendor, architecture: vendor, isFallbackAdapter: fallback } }) as unknown as GPUAdapter;
    const swiftshader = fake('google-swiftshader', true);
    const gl = fake('angle-gl', false);
    const vulkan = fake('nvidia', false);
    const asked: string[] = [];
    const gpuOf = (core: GPUAdapter | null, compat: GPUAdapter | null) =>
      ({
        requestAdapter: async (o: { featureLevel?: string; powerPreference?: string }) => {
          asked.push(`${o.featureLevel ?? 'core'}/${o.powerPreference}`);
          return o.featureLevel === 'compatibility' ? compat : core;
        },
      }) as unknown as GPU;
    expect(await pickAdapter(gpuOf(vulkan, gl), {})).toEqual({ adapter: vulkan, featureLevel: 'core' });
    expect(asked).toEqual(['core/high-performance']);
    expect(await pickAdapter(gpuOf(swiftshader, gl), {})).toEqual({ adapter: gl, featureLevel: 'compatibility' });
    expect(await pickAdapter(gpuOf(swiftshader, swiftshader), {})).toEqual({ adapter: swiftshader, featureLevel: 'core' });
    expect(await pickAdapter(gpuOf(null, gl), {})).toEqual({ adapter: gl, featureLevel: 'compatibility' });
    // An explicit feature level is obeyed.
    expect(await pickAdapter(gpuOf(vulkan, gl), { featureLevel: 'compatibility', powerPreference: 'low-power' })).toEqual({ adapter: gl, featureLevel: 'compatibility' });
    expect(asked.at(-1)).toBe('compatibility/low-power');
  });

  it('describes an adapter from its info and features', async () => {
    const adapter = await (await getNodeGpu()).requestAdapter();
    const report = describeAdapter(adapter!);
    expect(report.timestampQuery).toBe(adapter!.features.has('timestamp-query'));
    expect(report.subgroups).toBe(adapter!.features.has('subgroups'));
  });
});

describe('pipeline cache', () => {
  const spec = {
    name: 'probe',
    code: 'override SCALE: f32 = 1.0; @group(0) @binding(0) var<uniform> u: vec4<f32>; @group(0) @binding(1) var<storage, read_write> o: array<f32>; @compute @workgroup_size(1) fn main() { o[0] = u.x * SCALE; }',
    storage: ['write'] as const,
  };

  it('compiles each specialization once and keys on every parameter', () => {
    const cache = ctx.gpu.pipelines;
    const before = cache.compiled;
    const a = cache.get({ ...spec, constants: { SCALE: 2 } });
    const b = cache.get({ ...spec, constants: { SCALE: 2 } });
    expect(b).toBe(a);
    expect(cache.compiled).toBe(before + 1);
    const c = cache.get({ ...spec, constants: { SCALE: 3 } });
    expect(c).not.toBe(a);
    expect(cache.compiled).toBe(before + 2);
  });

  it('builds the key from name, entry point, constants in sorted order, bindings and source', () => {
    const k1 = pipelineKey({ ...spec, constants: { B: 1, A: 2 } });
    expect(k1).toBe(pipelineKey({ ...spec, constants: { A: 2, B: 1 } }));
    expect(k1).not.toBe(pipelineKey({ ...spec, constants: { A: 2, B: 2 } }));
    expect(k1).not.toBe(pipelineKey({ ...spec, name: 'other', constants: { A: 2, B: 1 } }));
    expect(k1).not.toBe(pipelineKey({ ...spec, code: spec.code + ' ', constants: { A: 2, B: 1 } }));
    expect(k1).not.toBe(pipelineKey({ ...spec, storage: ['read'], constants: { A: 2, B: 1 } }));
  });
});

describe('limits', () => {
  it('refuses workgroup counts above maxComputeWorkgroupsPerDimension, naming the limit', () => {
    expect(() => checkWorkgroups({ maxComputeWorkgroupsPerDimension: 100 }, [50, 101], 'kernel k')).toThrow(
      /kernel k \(workgroups along y\) needs maxComputeWorkgroupsPerDimension = 101, but this device allows at most 100/,
    );
    expect(() => checkWorkgroups({ maxComputeWorkgroupsPerDimension: 100 }, [100, 1], 'kernel k')).not.toThrow();
  });

  it('refuses bindings above maxStorageBufferBindingSize', () => {
    expect(() => checkBindingSize({ maxStorageBufferBindingSize: 1024 }, 2048, 'tensor t')).toThrow(GpuLimitError);
    expect(() => checkBindingSize({ maxStorageBufferBindingSize: 1024 }, 2048, 'tensor t')).toThrow(/maxStorageBufferBindingSize/);
  });

  it('refuses a buffer above maxBufferSize before allocating it', () => {
    const d = ctx.gpu.device;
    expect(() => zerosTensor(d, [d.limits.maxBufferSize / 4 + 1], 'huge')).toThrow(
      /buffer "huge" needs maxBufferSize = \d+, but this device allows at most \d+/,
    );
  });

  it('folds large 1-D grids into two dimensions', () => {
    expect(grid1d(64 * 10, 64, 65535)).toEqual([10, 1]);
    const [x, y] = grid1d(64 * 70000, 64, 65535);
    expect(x).toBe(65535);
    expect(x * y).toBeGreaterThanOrEqual(70000);
  });

  it('refuses a real dispatch with too many rows before it reaches the GPU', () => {
    const d = ctx.gpu.device;
    const M = (d.limits.maxComputeWorkgroupsPerDimension + 1) * 64;
    const w0 = uploadWeight(d, packWeight(new Float32Array([0.5]), 1, 1, 'f32', 'linear'), 'w0');
    const x = zerosTensor(d, [M, 1], 'x');
    const y = zerosTensor(d, [M, 1], 'y');
    const rec = new CommandRecorder(ctx.gpu);
    expect(() => encodeLinearForward(rec, { x, w0, y })).toThrow(/maxComputeWorkgroupsPerDimension/);
    x.buffer.destroy();
    y.buffer.destroy();
  });
});

describe('shape checks', () => {
  it('name the tensor and give the expected and actual shapes', () => {
    const d = ctx.gpu.device;
    const w0 = uploadWeight(d, packWeight(randomUniform(6 * 4, 1), 6, 4, 'q8', 'linear'), 'q_proj');
    const x = tensorFrom(d, randomUniform(3 * 5, 2), [3, 5], 'hidden');
    const y = zerosTensor(d, [3, 6], 'out');
    const rec = new CommandRecorder(ctx.gpu);
    expect(() => encodeLinearForward(rec, { x, w0, y })).toThrow(ShapeError);
    expect(() => encodeLinearForward(rec, { x, w0, y })).toThrow(
      'linear_forward(q_proj): tensor "hidden" (x) has shape [3, 5], expected [M, K] = [3, 4]',
    );
  });

  it('catch a buffer smaller than its declared shape', () => {
    const d = ctx.gpu.device;
    const w0 = uploadWeight(d, packWeight(randomUniform(2 * 4, 1), 2, 4, 'f32', 'linear'), 'w0');
    const x = tensorFrom(d, randomUniform(2 * 4, 2), [2, 4], 'x');
    const shortY = { ...zerosTensor(d, [1, 2], 'y'), shape: [2, 2] };
    const rec = new CommandRecorder(ctx.gpu);
    expect(() => encodeLinearForward(rec, { x, w0, y: shortY })).toThrow(/buffer of tensor "y" \(y\) has 8 bytes, shape \[2, 2\] needs 16/);
  });

  it('reject a LoRA pair that does not match W0', () => {
    const d = ctx.gpu.device;
    const w0 = uploadWeight(d, packWeight(randomUniform(6 * 4, 1), 6, 4, 'f32', 'linear'), 'v_proj');
    const x = tensorFrom(d, randomUniform(2 * 4, 2), [2, 4], 'x');
    const rec = new CommandRecorder(ctx.gpu);
    const lora = {
      a: zerosTensor(d, [2, 4], 'A'),
      b: zerosTensor(d, [6, 3], 'B'),
      scale: 1,
      dropout: { p: 0, seed: 0 },
    };
    expect(() =>
      encodeLoraLinearForward(rec, { x, w0, lora, y: zerosTensor(d, [2, 6], 'y'), xa: zerosTensor(d, [2, 2], 'xa') }),
    ).toThrow(/LoRA adapter of "v_proj".*expected lora_A \[r, 4\] and lora_B \[6, r\]/);
  });
});

describe('errors reach the caller', () => {
  it('an uncaptured validation error is reported with context, not swallowed', async () => {
    let resolve!: (e: Error) => void;
    const seen = new Promise<Error>((r) => (resolve = r));
    const gpu = await acquireNodeGpu({ onError: resolve });
    // A buffer cannot be both MAP_READ and STORAGE: a validation error outside any error scope.
    gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
    await gpu.device.queue.onSubmittedWorkDone();
    const err = await seen;
    expect(err).toBeInstanceOf(GpuOperationError);
    expect(err.message).toMatch(/WebGPU uncaptured error/);
    expect(() => gpu.assertHealthy()).toThrow(GpuOperationError);
    gpu.destroy();
  });

  it('a lost device resolves `lost` with the reason and stops new work', async () => {
    const gpu = await acquireNodeGpu();
    gpu.destroy();
    const lost = await gpu.lost;
    expect(lost).toBeInstanceOf(DeviceLostError);
    expect(lost.reason).toBe('destroyed');
    expect(() => new CommandRecorder(gpu)).toThrow(/device lost/);
  });
});

describe('error scopes', () => {
  it('withErrorScopes rethrows a validation error with the operation it came from', async () => {
    const d = ctx.gpu.device;
    await expect(
      withErrorScopes(d, 'allocating the probe buffer', () => {
        d.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.MAP_WRITE });
      }),
    ).rejects.toThrow(/WebGPU validation error in allocating the probe buffer/);
    await expect(withErrorScopes(d, 'nothing wrong', () => 42)).resolves.toBe(42);
  });
});
