/**
 * WebGPU under Node through the `webgpu` package (Dawn). Import this only from Node code (tests, CLI,
 * benchmarks).
 *
 * Dawn first looks for the system's Vulkan drivers. On a machine without a GPU it finds none, and then the
 * Vulkan loader is pointed at the SwiftShader driver that Debian's chromium package ships
 * (VK_ICD_FILENAMES), which runs WebGPU on the CPU.
 */
import { existsSync, readdirSync } from 'node:fs';
import { acquireGpu, type AcquireOptions, type GpuContext } from './device';
import { WebGpuUnavailableError } from './errors';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let nodeGpu: Promise<GPU> | undefined;

/** Folders where the Vulkan loader looks for driver manifests (ICDs) by default. */
const SYSTEM_ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

function hasSystemVulkanDriver(): boolean {
  return SYSTEM_ICD_DIRS.some((dir) => {
    try {
      return readdirSync(dir).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

async function findGpu(): Promise<GPU> {
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch (e) {
    throw new WebGpuUnavailableError(`the npm package "webgpu" (Dawn for Node) could not be loaded: ${(e as Error).message}`);
  }
  Object.assign(globalThis, webgpu.globals);
  // Probe the system's drivers only where some are installed: the probe prints loader warnings otherwise.
  if (process.env.VK_ICD_FILENAMES || hasSystemVulkanDriver()) {
    const gpu = webgpu.create([]) as unknown as GPU;
    if (process.env.VK_ICD_FILENAMES || (await gpu.requestAdapter())) return gpu;
  }
  if (!existsSync(SWIFTSHADER_ICD)) {
    throw new WebGpuUnavailableError(
      `Dawn found no Vulkan driver and ${SWIFTSHADER_ICD} is missing. Install a GPU driver with Vulkan, or on ` +
        'Debian: apt-get install chromium libvulkan1 (for the SwiftShader CPU driver).',
    );
  }
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  return webgpu.create([]) as unknown as GPU;
}

/** The `webgpu` package's GPU object, created once per process, with WebGPU's globals installed. */
export function getNodeGpu(): Promise<GPU> {
  nodeGpu ??= findGpu();
  return nodeGpu;
}

/** A device on the fastest adapter Dawn offers: a system GPU driver before SwiftShader, high performance first. */
export async function acquireNodeGpu(options: AcquireOptions = {}): Promise<GpuContext> {
  return acquireGpu(await getNodeGpu(), { powerPreference: 'high-performance', ...options });
}
