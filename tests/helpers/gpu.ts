/** One WebGPU device per test file, on Dawn (SwiftShader where there is no GPU). */
import { afterAll, beforeAll } from 'vitest';
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
