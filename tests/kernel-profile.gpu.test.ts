/**
 * The kernel profile: named from the adapter where it says what it is, measured where it says nothing
 * (Chromium's compatibility adapter), forced where the caller asks.
 */
import { describe, expect, it } from 'vitest';
import { kernelProfileFor, type AdapterReport } from '../src/gpu/device';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import { settleKernelProfile } from '../src/kernels/kernel-profile';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();

function report(over: Partial<AdapterReport>): AdapterReport {
  return {
    vendor: 'unknown', architecture: '', device: '', description: '', isFallbackAdapter: false, featureLevel: 'core',
    shaderF16: false, subgroups: false, timestampQuery: false,
    limits: {
      maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 28, maxComputeWorkgroupStorageSize: 16384,
      maxComputeInvocationsPerWorkgroup: 256, maxStorageBuffersPerShaderStage: 8, maxComputeWorkgroupsPerDimension: 65535,
    },
    ...over,
  };
}

describe('kernel profile from the adapter', () => {
  it('CPU drivers and fallback adapters get the cpu profile, named GPUs the gpu profile, silent adapters none', () => {
    expect(kernelProfileFor(report({ vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true }))).toBe('direct');
    expect(kernelProfileFor(report({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }))).toBe('direct');
    expect(kernelProfileFor(report({ vendor: 'nvidia', architecture: 'hopper' }))).toBe('tiled');
    expect(kernelProfileFor(report({ vendor: 'apple', architecture: 'metal-3' }))).toBe('tiled');
    expect(kernelProfileFor(report({}))).toBeNull();
    expect(kernelProfileFor(report({ architecture: 'unknown' }))).toBeNull();
  });

  it('this machine names its adapter, so nothing is left to measure', () => {
    expect(ctx.gpu.kernelsChosenBy).toBe('adapter');
    expect(ctx.gpu.kernels).toBe(kernelProfileFor(ctx.gpu.report));
    // SwiftShader, the CPU fallback this project's CI runs on, gets the CPU kernels.
    if (ctx.gpu.report.isFallbackAdapter) expect(ctx.gpu.kernels).toBe('direct');
  });
});

describe('settleKernelProfile', () => {
  it('measures both matmul families on a device whose profile is pending, keeps the faster, and runs once', async () => {
    const gpu = await acquireNodeGpu();
    try {
      gpu.kernels = 'tiled';
      gpu.kernelsChosenBy = 'pending';
      const m = await settleKernelProfile(gpu);
      expect(m).not.toBeNull();
      expect(m!.tiledMs).toBeGreaterThan(0);
      expect(m!.directMs).toBeGreaterThan(0);
      expect(m!.chosen).toBe(m!.directMs < m!.tiledMs ? 'direct' : 'tiled');
      expect(gpu.kernels).toBe(m!.chosen);
      expect(gpu.kernelsChosenBy).toBe('measurement');
      expect(await settleKernelProfile(gpu)).toBeNull();
    } finally {
      gpu.destroy();
    }
  });

  it('leaves a profile the caller forced alone', async () => {
    const gpu = await acquireNodeGpu({ kernels: 'tiled' });
    try {
      expect(gpu.kernelsChosenBy).toBe('caller');
      expect(await settleKernelProfile(gpu)).toBeNull();
      expect(gpu.kernels).toBe('tiled');
    } finally {
      gpu.destroy();
    }
  });
});
