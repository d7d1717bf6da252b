/** One WebGPU device per test file, on Dawn (SwiftShader where there is no GPU). */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import type { GpuContext } from '../../src/gpu/device';

export function useGpu(): { readonly gpu: GpuContext } {
  const holder = {} as { gpu: GpuContext };
  beforeAll(async () => {
    holder.gpu = await acquireNodeGpu();
  });
  afterAll(() => {
    holder.gpu?.destroy();
  });
  return holder;
}

/** The kernel profiles (gpu/device.ts): 'tiled' is what a real GPU runs, 'direct' what CPU drivers (this machine) run. */
export const KERNEL_PROFILES = ['tiled', 'direct'] as const;

/** Runs the enclosing describe's tests with `profile`, and gives the device its own profile back after each. */
export function withKernelProfile(ctx: { readonly gpu: GpuContext }, profile: GpuContext['kernels']): void {
  let own: GpuContext['kernels'];
  beforeEach(() => {
    own = ctx.gpu.kernels;
    ctx.gpu.kernels = profile;
  });
  afterEach(() => {
    ctx.gpu.kernels = own;
  });
}
