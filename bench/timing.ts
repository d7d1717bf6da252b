/** Wall-clock timing of GPU work: submit, wait for the queue, take the median of several repeats. */
import type { GpuContext } from '../src/gpu/device';

/** Median milliseconds of `run()` (which records and submits its work) over `reps` repeats after one warm-up. */
export async function timeGpu(gpu: GpuContext, run: () => void, reps: number): Promise<number> {
  run();
  await gpu.device.queue.onSubmittedWorkDone();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    await gpu.device.queue.onSubmittedWorkDone();
    times.push(performance.now() - t0);
  }
  gpu.assertHealthy();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Times two variants side by side, alternating them so that drift in machine load hits both alike.
 * Returns the median of each.
 */
export async function timePair(
  gpu: GpuContext,
  ours: () => void,
  baseline: () => void,
  reps: number,
): Promise<{ ours: number; baseline: number }> {
  const a: number[] = [];
  const b: number[] = [];
  for (const run of [ours, baseline]) {
    run();
    await gpu.device.queue.onSubmittedWorkDone();
  }
  for (let i = 0; i < reps; i++) {
    for (const [run, into] of [[ours, a], [baseline, b]] as const) {
      const t0 = performance.now();
      run();
      await gpu.device.queue.onSubmittedWorkDone();
      into.push(performance.now() - t0);
    }
  }
  gpu.assertHealthy();
  const median = (v: number[]) => v.sort((x, y) => x - y)[Math.floor(v.length / 2)];
  return { ours: median(a), baseline: median(b) };
}
