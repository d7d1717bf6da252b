/**
 * WebGPU under Node through the `webgpu` package (Dawn). On a machine without a GPU, Dawn finds no Vulkan
 * adapter unless the loader is pointed at a software driver; Debian's chromium package ships SwiftShader's.
 * Import this only from Node code (tests, CLI, benchmarks).
 */
import { existsSync } from 'node:fs';
import { acquireGpu, type AcquireOptions, type GpuContext } from './device';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let nodeGpu: GPU | undefined;

/** The `webgpu` package's GPU object, created once per process, with WebGPU's globals installed. */
export async function getNodeGpu(): Promise<GPU> {
  if (nodeGpu) return nodeGpu;
  // The loader reads VK_ICD_FILENAMES when Dawn first enumerates adapters, so set it before create().
  if (!process.env.VK_ICD_FILENAMES && !process.env.PEFT_STUDIO_SYSTEM_VULKAN && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  nodeGpu = create([]) as unknown as GPU;
  return nodeGpu;
}

export async function acquireNodeGpu(options: AcquireOptions = {}): Promise<GpuContext> {
  return acquireGpu(await getNodeGpu(), options);
}
