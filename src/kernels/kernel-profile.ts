/**
 * Settling the kernel profile ('tiled' or 'direct', gpu/device.ts) of an adapter that does not name itself.
 *
 * Chromium's compatibility adapter reports no vendor, architecture or description, so nothing tells a GPU
 * behind OpenGL ES from Mesa's llvmpipe. There the profile is measured once: the forward matmul
 * y = x·Wᵀ (256 × 256 × 256, f32) runs with each profile's kernel, and the faster one wins. It costs two
 * pipeline compiles and a few milliseconds of dispatches, once per device.
 */
import type { GpuContext, KernelProfile } from '../gpu/device';
import { CommandRecorder } from './dispatch';
import { destroyWeight, uploadWeight } from './gpu-weight';
import { encodeLinearForward } from './linear';
import { packWeight } from './quantize';
import { tensorFrom, zerosTensor } from './tensor';
import { randomUniform } from '../util/random';

export interface ProfileMeasurement {
  /** Best of the timed runs of the 'tiled' profile's forward matmul, in ms. */
  tiledMs: number;
  /** The same for the 'direct' profile's kernel. */
  directMs: number;
  chosen: KernelProfile;
}

const SIZE = 256;
const RUNS = 3;

/**
 * Measures and sets `gpu.kernels` when the adapter left it open (`kernelsChosenBy === 'pending'`); returns the
 * measurement, or null when there was nothing to settle.
 */
export async function settleKernelProfile(gpu: GpuContext): Promise<ProfileMeasurement | null> {
  if (gpu.kernelsChosenBy !== 'pending') return null;
  const dev = gpu.device;
  const x = tensorFrom(dev, randomUniform(SIZE * SIZE, 1), [SIZE, SIZE], 'profile x');
  const y = zerosTensor(dev, [SIZE, SIZE], 'profile y');
  const w = uploadWeight(dev, packWeight(randomUniform(SIZE * SIZE, 2, -0.1, 0.1), SIZE, SIZE, 'f32', 'linear'), 'profile W');
  const best: Record<KernelProfile, number> = { tiled: Infinity, direct: Infinity };
  try {
    const once = async (profile: KernelProfile): Promise<number> => {
      gpu.kernels = profile;
      const t0 = performance.now();
      const rec = new CommandRecorder(gpu, `kernel profile: ${profile}`);
      encodeLinearForward(rec, { x, w0: w, y });
      rec.submit();
      await dev.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    // First runs compile the pipelines; then the two alternate, so that drift in load hits both alike.
    await once('tiled');
    await once('direct');
    for (let i = 0; i < RUNS; i++) {
      for (const profile of ['tiled', 'direct'] as const) best[profile] = Math.min(best[profile], await once(profile));
    }
    gpu.assertHealthy();
  } finally {
    x.buffer.destroy();
    y.buffer.destroy();
    destroyWeight(w);
  }
  const chosen: KernelProfile = best.direct < best.tiled ? 'direct' : 'tiled';
  gpu.kernels = chosen;
  gpu.kernelsChosenBy = 'measurement';
  return { tiledMs: best.tiled, directMs: best.direct, chosen };
}
