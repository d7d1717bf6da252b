/**
 * `npm run bench:kernels [-- --json] [-- --reps N] [-- --quick]`
 *
 * Kernel benchmark, measured side by side in one run on one device (a benchmark, not a test):
 * - the matmul kernel families against each other, for x·Wᵀ and dy·W: direct (no workgroup memory, for CPU
 *   drivers) vs tiled (for GPUs), whichever the adapter uses by default named first;
 * - the adapter's matmul vs the naive matmul;
 * - fused LoRA forward and backward vs the same math as separate plain dispatches;
 * - the q8, q4 and nf4 matmuls vs f32 at the same shape (time, and bytes of W0).
 * ratio = baseline_ms / ms, so a ratio above 1 means the first-named kernel is faster.
 */
import { parseArgs } from 'node:util';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import type { GpuContext, KernelProfile } from '../src/gpu/device';
import { CommandRecorder } from '../src/kernels/dispatch';
import { uploadWeight, type GpuWeight } from '../src/kernels/gpu-weight';
import { encodeLinearBackwardInput, encodeLinearForward } from '../src/kernels/linear';
import { encodeLoraLinearBackward, encodeLoraLinearForward, type LoraAdapterTensors } from '../src/kernels/lora-linear';
import { encodeUnfusedBackward, encodeUnfusedForward, type UnfusedLayer, type UnfusedScratch } from './lora-linear-unfused';
import { encodeNaiveMatmul } from '../src/kernels/plain-ops';
import { packWeight } from '../src/kernels/quantize';
import { tensorFrom, zerosTensor, type GpuTensor } from '../src/kernels/tensor';
import type { WeightFormat } from '../src/kernels/weight-format';
import { randomUniform } from '../src/util/random';
import { timePair } from './timing';

interface Row {
  name: string;
  shape: string;
  ms: number;
  gflops: number;
  baseline: string;
  baseline_ms: number;
  ratio: number;
  bytes?: number;
  baseline_bytes?: number;
}

const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    reps: { type: 'string', default: '5' },
    quick: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const reps = Number(opts.reps);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer, got ${opts.reps}`);

const rows: Row[] = [];
function emit(row: Row): void {
  rows.push(row);
  if (opts.json) console.log(JSON.stringify(row));
}

/** Records and submits `encode` with the device's kernel profile set to `kernels` (default: the adapter's). */
function run(gpu: GpuContext, encode: (rec: CommandRecorder) => void, kernels: KernelProfile = defaultKernels): () => void {
  return () => {
    const chosen = gpu.kernels;
    gpu.kernels = kernels;
    try {
      const rec = new CommandRecorder(gpu, 'bench');
      encode(rec);
      rec.submit();
    } finally {
      gpu.kernels = chosen;
    }
  };
}

function weight(gpu: GpuContext, N: number, K: number, format: WeightFormat): GpuWeight {
  return uploadWeight(gpu.device, packWeight(randomUniform(N * K, 7, -0.1, 0.1), N, K, format, 'linear'), `W0 ${format}`);
}

function t(gpu: GpuContext, shape: number[], name: string, seed = 1): GpuTensor {
  return tensorFrom(gpu.device, randomUniform(shape.reduce((a, b) => a * b, 1), seed), shape, name);
}

/** The matmul kernel family of a profile. */
function family(profile: KernelProfile): string {
  return profile;
}

async function matmulRows(gpu: GpuContext, T: number, d: number): Promise<void> {
  const shape = `T=${T} in=${d} out=${d}`;
  const flops = 2 * T * d * d;
  const x = t(gpu, [T, d], 'x');
  const dy = t(gpu, [T, d], 'dy', 2);
  const y = zerosTensor(gpu.device, [T, d], 'y');
  const dx = zerosTensor(gpu.device, [T, d], 'dx');
  const w32 = weight(gpu, d, d, 'f32');
  const wDense = t(gpu, [d, d], 'W dense', 3);

  const other: KernelProfile = defaultKernels === 'direct' ? 'tiled' : 'direct';
  const fwdK = await timePair(gpu, run(gpu, (r) => encodeLinearForward(r, { x, w0: w32, y })), run(gpu, (r) => encodeLinearForward(r, { x, w0: w32, y }), other), reps);
  emit({ name: `matmul x·Wᵀ ${family(defaultKernels)}`, shape, ms: fwdK.ours, gflops: flops / fwdK.ours / 1e6, baseline: `matmul x·Wᵀ ${family(other)}`, baseline_ms: fwdK.baseline, ratio: fwdK.baseline / fwdK.ours });
  const bwdK = await timePair(gpu, run(gpu, (r) => encodeLinearBackwardInput(r, { dy, w0: w32, dx })), run(gpu, (r) => encodeLinearBackwardInput(r, { dy, w0: w32, dx }), other), reps);
  emit({ name: `matmul dy·W ${family(defaultKernels)}`, shape, ms: bwdK.ours, gflops: flops / bwdK.ours / 1e6, baseline: `matmul dy·W ${family(other)}`, baseline_ms: bwdK.baseline, ratio: bwdK.baseline / bwdK.ours });

  const fwd = await timePair(gpu, run(gpu, (r) => encodeLinearForward(r, { x, w0: w32, y })), run(gpu, (r) => encodeNaiveMatmul(r, { a: x, b: wDense, transB: true, c: y })), reps);
  emit({ name: `matmul x·Wᵀ ${family(defaultKernels)}`, shape, ms: fwd.ours, gflops: flops / fwd.ours / 1e6, baseline: 'matmul x·Wᵀ naive', baseline_ms: fwd.baseline, ratio: fwd.baseline / fwd.ours });
  const bwd = await timePair(gpu, run(gpu, (r) => encodeLinearBackwardInput(r, { dy, w0: w32, dx })), run(gpu, (r) => encodeNaiveMatmul(r, { a: dy, b: wDense, c: dx })), reps);
  emit({ name: `matmul dy·W ${family(defaultKernels)}`, shape, ms: bwd.ours, gflops: flops / bwd.ours / 1e6, baseline: 'matmul dy·W naive', baseline_ms: bwd.baseline, ratio: bwd.baseline / bwd.ours });

  for (const format of ['q8', 'q4', 'nf4'] as const) {
    const wq = weight(gpu, d, d, format);
    const q = await timePair(gpu, run(gpu, (r) => encodeLinearForward(r, { x, w0: wq, y })), run(gpu, (r) => encodeLinearForward(r, { x, w0: w32, y })), reps);
    emit({
      name: `matmul x·Wᵀ ${format}`, shape, ms: q.ours, gflops: flops / q.ours / 1e6, baseline: 'matmul x·Wᵀ f32', baseline_ms: q.baseline,
      ratio: q.baseline / q.ours, bytes: wq.bytes, baseline_bytes: w32.bytes,
    });
  }
}

async function loraRows(gpu: GpuContext, T: number, d: number, r: number): Promise<void> {
  const dev = gpu.device;
  const shape = `T=${T} in=${d} out=${d} r=${r}`;
  const x = t(gpu, [T, d], 'x');
  const dy = t(gpu, [T, d], 'dy', 2);
  const bias = t(gpu, [d], 'bias', 3);
  const w0 = weight(gpu, d, d, 'f32');
  const w0Dense = t(gpu, [d, d], 'W0 dense', 4);
  const lora: LoraAdapterTensors = { a: t(gpu, [r, d], 'A', 5), b: t(gpu, [d, r], 'B', 6), scale: 2, dropout: { p: 0.1, seed: 1 } };
  const y = zerosTensor(dev, [T, d], 'y');
  const xa = zerosTensor(dev, [T, r], 'xa');
  const g = zerosTensor(dev, [T, r], 'g');
  const dx = zerosTensor(dev, [T, d], 'dx');
  const dA = zerosTensor(dev, [r, d], 'dA');
  const dB = zerosTensor(dev, [d, r], 'dB');
  const layer: UnfusedLayer = { w0: w0Dense, bias, ...lora };
  const scratch: UnfusedScratch = {
    xd: zerosTensor(dev, [T, d], 'xd'),
    lo: zerosTensor(dev, [T, d], 'lo'),
    base: zerosTensor(dev, [T, d], 'base'),
    dxBase: zerosTensor(dev, [T, d], 'dx base'),
    gA: zerosTensor(dev, [T, d], 'gA'),
  };
  const fwdFlops = 2 * T * d * d + 4 * T * d * r;
  const fwd = await timePair(
    gpu,
    run(gpu, (rec) => encodeLoraLinearForward(rec, { x, w0, bias, lora, y, xa })),
    run(gpu, (rec) => encodeUnfusedForward(rec, layer, scratch, x, xa, y)),
    reps,
  );
  emit({ name: 'LoRA forward fused', shape, ms: fwd.ours, gflops: fwdFlops / fwd.ours / 1e6, baseline: 'LoRA forward unfused (5 plain dispatches)', baseline_ms: fwd.baseline, ratio: fwd.baseline / fwd.ours });
  const bwdFlops = 2 * T * d * d + 8 * T * d * r;
  const bwd = await timePair(
    gpu,
    run(gpu, (rec) => encodeLoraLinearBackward(rec, { dy, x, xa, w0, lora, g, dx, dA, dB })),
    run(gpu, (rec) => encodeUnfusedBackward(rec, layer, scratch, { dy, xa, g, dx, dA, dB })),
    reps,
  );
  emit({ name: 'LoRA backward fused', shape, ms: bwd.ours, gflops: bwdFlops / bwd.ours / 1e6, baseline: 'LoRA backward unfused (6 plain dispatches)', baseline_ms: bwd.baseline, ratio: bwd.baseline / bwd.ours });
}

function printTable(): void {
  const header = ['name', 'shape', 'ms', 'GFLOP/s', 'baseline', 'baseline ms', 'ratio', 'W0 bytes'];
  const body = rows.map((r) => [
    r.name, r.shape, r.ms.toFixed(1), r.gflops.toFixed(2), r.baseline, r.baseline_ms.toFixed(1), `${r.ratio.toFixed(2)}×`,
    r.bytes !== undefined ? `${r.bytes} vs ${r.baseline_bytes}` : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

const gpu = await acquireNodeGpu();
const defaultKernels = gpu.kernels;
if (!opts.json) {
  const rep = gpu.report;
  console.log(`adapter: ${rep.vendor} ${rep.architecture}${rep.isFallbackAdapter ? ' (fallback)' : ''}, ${family(defaultKernels)} matmul kernels (${defaultKernels} profile), ${reps} repeats, medians\n`);
}
try {
  const small = opts.quick ? 128 : 256;
  await matmulRows(gpu, small, small);
  if (!opts.quick) await matmulRows(gpu, 512, 512);
  await loraRows(gpu, small, small, 8);
  if (!opts.quick) await loraRows(gpu, 512, 512, 16);
  if (!opts.json) printTable();
} finally {
  gpu.destroy();
}
process.exit(0);
