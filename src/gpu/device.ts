/**
 * Acquiring a WebGPU adapter and device, the same way in a page, a Web Worker and Node.
 *
 * In a browser `navigator.gpu` is passed in; under Node, `node-gpu.ts` passes the `webgpu` package's GPU.
 * The device is created with limits raised above the defaults only where the adapter offers more, and every
 * loss or uncaptured error is surfaced to the caller's handlers — never swallowed.
 */
import { DeviceLostError, GpuOperationError, WebGpuUnavailableError } from './errors';
import { DispatchCache } from './dispatch-cache';
import type { GpuProfiler } from './gpu-profiler';
import { PipelineCache } from './pipeline-cache';

/** One line naming the adapter, e.g. "google / swiftshader (SwiftShader Device (Subzero)), a CPU fallback: training will be slow". */
export function adapterLine(report: AdapterReport): string {
  const name = [report.vendor, report.architecture].filter(Boolean).join(' / ') || 'unknown adapter';
  const detail = report.description || report.device;
  const level = report.featureLevel === 'compatibility' ? ', compatibility feature level' : '';
  return `${name}${detail ? ` (${detail})` : ''}${level}${report.isFallbackAdapter ? ', a CPU fallback: training will be slow' : ''}`;
}

/** What the studio reports about the adapter it runs on. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** 'compatibility' when the adapter was asked for at WebGPU's compatibility feature level. */
  featureLevel: 'core' | 'compatibility';
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxStorageBuffersPerShaderStage: number;
    maxComputeWorkgroupsPerDimension: number;
  };
}

/**
 * What the kernels are tuned for (src/kernels/kernel-profile.ts):
 * - 'tiled': tiled matmuls in workgroup memory with barriers; token reductions split over many threads;
 * - 'direct': for CPU drivers (SwiftShader, llvmpipe), where a workgroup's invocations run a few at a time as SIMD
 *   lanes, every barrier switches between those groups and every per-lane memory access is a gather: matmuls
 *   without workgroup memory or barriers that read straight from the storage buffers, and reductions that are
 *   not split (the CPU has few cores to fill). On SwiftShader they are several times faster.
 */
export type KernelProfile = 'tiled' | 'direct';

const CPU_DRIVER = /swiftshader|llvmpipe|lavapipe|softpipe|software rasterizer|\bcpu\b/i;

/**
 * 'direct' for a CPU fallback adapter or a known CPU driver, 'tiled' for an adapter that names itself, and null when
 * the adapter says nothing about itself (Chromium's compatibility adapter): then the profile is measured
 * (kernels/kernel-profile.ts, settleKernelProfile).
 */
export function kernelProfileFor(report: AdapterReport): KernelProfile | null {
  if (report.isFallbackAdapter) return 'direct';
  const names = [report.vendor, report.architecture, report.device, report.description];
  if (CPU_DRIVER.test(names.join(' '))) return 'direct';
  return names.every((v) => !v || v === 'unknown') ? null : 'tiled';
}

/** A device ready for the kernels, with its adapter's report and the pipeline and dispatch caches bound to it. */
export interface GpuContext {
  adapter: GPUAdapter;
  device: GPUDevice;
  report: AdapterReport;
  /** What the kernels dispatched on this device are tuned for; settable for tests and benchmarks. */
  kernels: KernelProfile;
  /** How `kernels` was chosen: from the adapter's name, by the caller, or measured (pending until settleKernelProfile). */
  kernelsChosenBy: 'adapter' | 'caller' | 'pending' | 'measurement';
  pipelines: PipelineCache;
  /** Bind groups, uniform buffers and scratch buffers that dispatches reuse across steps. */
  dispatchCache: DispatchCache;
  /** Times each kernel with timestamp queries when set (benchmarks: `GpuProfiler.create`); null in the studio. */
  profiler: GpuProfiler | null;
  /** Resolves when the device is lost; the error says why. */
  lost: Promise<DeviceLostError>;
  /** Errors WebGPU raised outside any error scope; filled by the uncapturederror handler. */
  uncapturedErrors: GpuOperationError[];
  /** Checks that nothing went wrong asynchronously since the last call; throws the first problem seen. */
  assertHealthy(): void;
  destroy(): void;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Ask for a compatibility-mode adapter (Chromium's GL path). */
  featureLevel?: 'core' | 'compatibility';
  /** Force a kernel profile instead of the one kernelProfileFor picks. */
  kernels?: KernelProfile;
  /** Called when the device is lost or an uncaptured error arrives. */
  onError?: (error: Error) => void;
}

/** Limits the kernels benefit from; each is requested only up to what the adapter offers. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
] as const;

/** Features used when present; kernels always have a path without them. */
const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];

export function describeAdapter(adapter: GPUAdapter, featureLevel: 'core' | 'compatibility' = 'core'): AdapterReport {
  const info = adapter.info;
  const l = adapter.limits;
  return {
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || 'unknown',
    device: info.device || '',
    description: info.description || '',
    isFallbackAdapter: isFallback(adapter),
    featureLevel,
    shaderF16: adapter.features.has('shader-f16'),
    subgroups: adapter.features.has('subgroups'),
    timestampQuery: adapter.features.has('timestamp-query'),
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  };
}

/** The GPU object of this environment: navigator.gpu in a page or worker, or undefined. */
export function browserGpu(): GPU | undefined {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  return nav && 'gpu' in nav ? (nav.gpu as GPU) : undefined;
}

export const NO_WEBGPU_HELP =
  'WebGPU is not available here. Use a recent Chrome, Edge or Chromium (version 113 or later) on a machine with ' +
  'a supported GPU, or Firefox 141+ / Safari 26+. On Linux, Chromium needs --enable-unsafe-webgpu ' +
  '(and --enable-features=Vulkan on some drivers). Check chrome://gpu to see why WebGPU is disabled.';

/** isFallbackAdapter moved from GPUAdapter to GPUAdapterInfo; reads whichever exists. */
function isFallback(adapter: GPUAdapter): boolean {
  const info = adapter.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  return Boolean(info?.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter);
}

/**
 * The fastest adapter on offer. With no featureLevel given: the core adapter (high performance unless told
 * otherwise), unless it is a CPU fallback and a compatibility-level adapter is not (e.g. Chromium's OpenGL ES
 * adapter beside SwiftShader), in which case that one.
 */
export async function pickAdapter(gpu: GPU, options: AcquireOptions): Promise<{ adapter: GPUAdapter; featureLevel: 'core' | 'compatibility' }> {
  const ask = (featureLevel: 'core' | 'compatibility') => {
    const request: GPURequestAdapterOptions & { featureLevel?: string } = { powerPreference: options.powerPreference ?? 'high-performance' };
    if (featureLevel === 'compatibility') request.featureLevel = 'compatibility';
    return gpu.requestAdapter(request).catch(() => null);
  };
  if (options.featureLevel) {
    const adapter = await ask(options.featureLevel);
    if (!adapter) throw new WebGpuUnavailableError(`requestAdapter({ featureLevel: '${options.featureLevel}' }) returned no adapter. ${NO_WEBGPU_HELP}`);
    return { adapter, featureLevel: options.featureLevel };
  }
  const core = await ask('core');
  if (core && !isFallback(core)) return { adapter: core, featureLevel: 'core' };
  const compat = await ask('compatibility');
  if (compat && !isFallback(compat) && (!core || compat.info?.architecture !== core.info?.architecture || compat.info?.vendor !== core.info?.vendor)) {
    return { adapter: compat, featureLevel: 'compatibility' };
  }
  if (core) return { adapter: core, featureLevel: 'core' };
  if (compat) return { adapter: compat, featureLevel: 'compatibility' };
  throw new WebGpuUnavailableError(`requestAdapter() returned no adapter. ${NO_WEBGPU_HELP}`);
}

export async function acquireGpu(gpu: GPU | undefined, options: AcquireOptions = {}): Promise<GpuContext> {
  if (!gpu) throw new WebGpuUnavailableError(NO_WEBGPU_HELP);
  const { adapter, featureLevel } = await pickAdapter(gpu, options);

  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const offered = adapter.limits[name];
    if (typeof offered === 'number') requiredLimits[name] = offered;
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'peft-studio' });
  } catch (e) {
    throw new WebGpuUnavailableError(`requestDevice() failed: ${(e as Error).message}`);
  }

  const uncapturedErrors: GpuOperationError[] = [];
  let lostError: DeviceLostError | null = null;
  let destroyed = false;

  device.addEventListener('uncapturederror', (event) => {
    const err = (event as GPUUncapturedErrorEvent).error;
    const wrapped = new GpuOperationError('uncaptured', 'a GPU command', err.message);
    uncapturedErrors.push(wrapped);
    options.onError?.(wrapped);
  });

  const lost = device.lost.then((info) => {
    lostError = new DeviceLostError(destroyed ? 'destroyed' : String(info.reason ?? 'unknown'), info.message);
    if (!destroyed) options.onError?.(lostError);
    return lostError;
  });

  const report = describeAdapter(adapter, featureLevel);
  const named = kernelProfileFor(report);
  return {
    adapter,
    device,
    report,
    // An adapter that names nothing starts on 'tiled' until settleKernelProfile measures it.
    kernels: options.kernels ?? named ?? 'tiled',
    kernelsChosenBy: options.kernels ? 'caller' : named ? 'adapter' : 'pending',
    pipelines: new PipelineCache(device),
    dispatchCache: new DispatchCache(device),
    profiler: null,
    lost,
    uncapturedErrors,
    assertHealthy() {
      if (lostError) throw lostError;
      const first = uncapturedErrors.shift();
      if (first) throw first;
    },
    destroy() {
      destroyed = true;
      device.destroy();
    },
  };
}

/**
 * Runs `body` inside validation and out-of-memory error scopes, and rethrows what they caught with `context`.
 * Use it around work whose failure should name the operation (a kernel dispatch, a buffer allocation).
 */
export async function withErrorScopes<T>(device: GPUDevice, context: string, body: () => T): Promise<T> {
  device.pushErrorScope('internal');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  try {
    result = body();
  } finally {
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    const internal = await device.popErrorScope();
    const first = validation
      ? new GpuOperationError('validation', context, validation.message)
      : oom
        ? new GpuOperationError('out-of-memory', context, oom.message)
        : internal
          ? new GpuOperationError('internal', context, internal.message)
          : null;
    if (first) throw first;
  }
  return result;
}
