/** Encoding a kernel dispatch, with the adapter limits checked first. */
import type { GpuContext } from '../gpu/device';
import { GpuLimitError } from '../gpu/errors';
import { createStorage } from '../gpu/buffers';
import type { Recording } from '../gpu/dispatch-cache';
import type { GpuProfiler, ProfileRecording } from '../gpu/gpu-profiler';
import type { PipelineSpec } from '../gpu/pipeline-cache';

/** Refuses workgroup counts above maxComputeWorkgroupsPerDimension, naming the limit. */
export function checkWorkgroups(limits: Pick<GPUSupportedLimits, 'maxComputeWorkgroupsPerDimension'>, counts: readonly number[], what: string): void {
  counts.forEach((c, axis) => {
    if (c > limits.maxComputeWorkgroupsPerDimension) {
      throw new GpuLimitError(
        'maxComputeWorkgroupsPerDimension',
        c,
        limits.maxComputeWorkgroupsPerDimension,
        `${what} (workgroups along ${'xyz'[axis]})`,
      );
    }
  });
}

/** Refuses a storage binding larger than maxStorageBufferBindingSize, naming the limit and the tensor. */
export function checkBindingSize(
  limits: Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize'>,
  bytes: number,
  what: string,
): void {
  if (bytes > limits.maxStorageBufferBindingSize) {
    throw new GpuLimitError('maxStorageBufferBindingSize', bytes, limits.maxStorageBufferBindingSize, what);
  }
}

/**
 * Workgroup counts for `total` threads in groups of `groupSize`, folded into a second dimension when one
 * dimension is not enough. Kernels rebuild the flat index as (wid.y · nwg.x + wid.x) · groupSize + lid.
 */
export function grid1d(total: number, groupSize: number, maxPerDim: number): [number, number] {
  const groups = Math.max(1, Math.ceil(total / groupSize));
  if (groups <= maxPerDim) return [groups, 1];
  return [maxPerDim, Math.ceil(groups / maxPerDim)];
}

export interface DispatchSpec {
  label: string;
  /** Compiled (or taken from the cache) only after the limits are checked. */
  pipeline: PipelineSpec;
  uniform: ArrayBuffer;
  /** Storage buffers in binding order 1, 2, … */
  buffers: readonly GPUBuffer[];
  workgroups: readonly number[];
}

/**
 * Collects the dispatches of one step into a command encoder and submits them together. Bind groups, their
 * uniform buffers and scratch buffers come from the device's dispatch cache (gpu/dispatch-cache.ts), which reuses
 * them in later steps and destroys them when they are no longer used.
 */
export class CommandRecorder {
  readonly encoder: GPUCommandEncoder;
  private readonly recording: Recording;
  /** The profiler the recorder was made under, and what it records for it. */
  private readonly profile: { profiler: GpuProfiler; rec: ProfileRecording } | null;
  private submitted = false;

  constructor(
    readonly gpu: GpuContext,
    label = 'peft-studio step',
  ) {
    gpu.assertHealthy();
    this.encoder = gpu.device.createCommandEncoder({ label });
    this.recording = gpu.dispatchCache.begin();
    this.profile = gpu.profiler ? { profiler: gpu.profiler, rec: gpu.profiler.begin() } : null;
  }

  get limits(): GPUSupportedLimits {
    return this.gpu.device.limits;
  }

  /** A zero-filled scratch storage buffer that is this recorder's until it is submitted. */
  scratch(byteLength: number, label: string): GPUBuffer {
    if (this.submitted) throw new Error(`${label}: this command recorder was already submitted`);
    return this.gpu.dispatchCache.scratch(this.recording, this.encoder, byteLength, label);
  }

  dispatch(spec: DispatchSpec): void {
    if (this.submitted) throw new Error(`${spec.label}: this command recorder was already submitted`);
    const counts = [spec.workgroups[0] ?? 1, spec.workgroups[1] ?? 1, spec.workgroups[2] ?? 1];
    checkWorkgroups(this.limits, counts, spec.label);
    for (const b of spec.buffers) checkBindingSize(this.limits, b.size, `${spec.label}: binding "${b.label}"`);
    if (this.gpu.pipelines.collect(spec.pipeline)) return;
    const pipeline = this.gpu.pipelines.get(spec.pipeline);
    const bindGroup = this.gpu.dispatchCache.bindGroup(this.recording, pipeline, spec);
    const timestampWrites = this.profile?.profiler.dispatching(this.profile.rec, spec.pipeline.name, {
      pipeline: pipeline.pipeline,
      bindGroup,
      workgroups: [counts[0], counts[1], counts[2]],
    });
    const pass = this.encoder.beginComputePass({ label: spec.label, timestampWrites });
    pass.setPipeline(pipeline.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(counts[0], counts[1], counts[2]);
    pass.end();
  }

  submit(): void {
    if (this.submitted) return;
    this.submitted = true;
    const timestamps = this.profile?.profiler.resolve(this.profile.rec, this.encoder) ?? null;
    this.gpu.device.queue.submit([this.encoder.finish()]);
    this.gpu.dispatchCache.submitted(this.recording);
    this.gpu.pipelines.startDeferred();
    this.profile?.profiler.submitted(this.profile.rec, timestamps);
  }
}

const placeholders = new WeakMap<GPUDevice, GPUBuffer>();

/** A 4-byte read-only buffer bound where a kernel's optional input is absent. */
export function placeholderBuffer(device: GPUDevice): GPUBuffer {
  let b = placeholders.get(device);
  if (!b) {
    b = createStorage(device, 4, 'absent input');
    placeholders.set(device, b);
  }
  return b;
}
