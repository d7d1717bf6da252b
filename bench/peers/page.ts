/**
 * In-page runner of the peer benchmark (bench/peers/index.html), driven by bench/peers.ts and by
 * e2e/peers-precheck.spec.ts through `window.__peerBench.run(options)`.
 *
 * For every shape and W0 format it builds one problem (the same host arrays for every side; the peers get the
 * dequantized W0), then
 *   1. pre-checks: one train step on our side and on TF.js (loss, dA, dB, and A, B after the Adam step) and
 *      one forward on our side and on ORT (y); a mismatch fails the run, naming the row and the worst element;
 *   2. unless `precheckOnly`: times our train step against TF.js's and our forward against ORT's, after
 *      `warmup` untimed runs of each, alternating the two sides within each repeat (and swapping which goes
 *      first every other repeat) so that machine noise hits both; medians of `reps`. At a shape with f32 and
 *      other formats, each quantized W0 is also timed the same way against our f32 W0 (peer `ours-f32`).
 *
 * Each library gets its own adapter and device, all requested with the same `featureLevel` (core, or the GL
 * compatibility adapter): ours through `acquireGpu`, TF.js through `new WebGPUBackend(device, info)`, ORT
 * through the WebGPU EP's `device` option.
 */
import { acquireGpu, browserGpu, describeAdapter, type AdapterReport, type GpuContext, type KernelProfile } from '../../src/gpu/device';
import { settleKernelProfile } from '../../src/kernels/kernel-profile';
import { dequantizeWeight, packWeight } from '../../src/kernels/quantize';
import { checkTolerance, describeViolation, type Tolerance } from '../../src/kernels/reference/tolerance';
import type { WeightFormat } from '../../src/kernels/weight-format';
import { randomUniform } from '../../src/util/random';
import { OURS_F32 } from './goals';
import { OrtLoraPeer, ortVersion } from './ort-peer';
import { ADAM, OursLora, type LoraProblem, type TrainStepState } from './ours';
import { TfjsLoraPeer, tfjsVersion, useTfjsDevice } from './tfjs-peer';

export type FeatureLevel = 'core' | 'compatibility';

export interface ShapeSpec {
  T: number;
  d: number;
  r: number;
  formats: WeightFormat[];
}

export interface PeerBenchOptions {
  shapes: ShapeSpec[];
  /** Timed repeats per row; the median is reported. */
  reps: number;
  /** Untimed runs of each side before timing (the pre-check has already run each once). Default 1. */
  warmup?: number;
  featureLevel?: FeatureLevel;
  /** Our kernel profile; default: the one chosen for the adapter (gpu/device.ts), measured if it names nothing. */
  kernels?: KernelProfile;
  /** Run the pre-checks only (no timing). */
  precheckOnly?: boolean;
  /** Tests only: give one peer a wrong LoRA scaling, which its pre-check must catch. */
  perturb?: 'tfjs' | 'ort';
  /** Tests only: return the inputs and results of every pre-check. */
  returnData?: boolean;
}

/** One line of the benchmark's output; ratio = peer_ms / ours_ms (above 1: ours is faster). */
export interface PeerRow {
  name: string;
  shape: string;
  ours_ms: number;
  peer: string;
  peer_ms: number;
  ratio: number;
}

export interface CheckReport {
  /** The benchmark row the check guards, e.g. "train step W0 nf4 T=64 d=64 r=4". */
  row: string;
  peer: 'tfjs' | 'ort';
  /** What was compared: loss, dA, dB, A after step, B after step, y. */
  what: string;
  pass: boolean;
  tolerance: Tolerance;
  worstRatio: number;
  worstIndex: number;
  /** The peer's value at the worst element. */
  actual: number;
  /** Our value there. */
  expected: number;
  maxAbsError: number;
  /** Elements left out (A/B after step: those whose gradient is within its tolerance of 0, so its sign is moot). */
  skipped: number;
  message: string;
}

export interface PrecheckData {
  T: number;
  d: number;
  r: number;
  format: WeightFormat;
  scale: number;
  lr: number;
  x: number[];
  target: number[];
  /** W0 as the peers got it (dequantized for q8/q4/nf4). */
  w0: number[];
  a: number[];
  b: number[];
  ours: { loss: number; dA: number[]; dB: number[]; a: number[]; b: number[]; y: number[] };
  tfjs: { loss: number; dA: number[]; dB: number[]; a: number[]; b: number[] };
  ort: { y: number[] };
}

export interface PeerBenchResult {
  ok: boolean;
  /** The first failed pre-check (or error), naming the row and the worst element. */
  failure?: string;
  rows: PeerRow[];
  checks: CheckReport[];
  featureLevel: FeatureLevel;
  /** The kernel profile our side ran, and how it was chosen. */
  kernels: KernelProfile;
  kernelsChosenBy: GpuContext['kernelsChosenBy'];
  adapters: { ours: AdapterReport; tfjs: AdapterReport; ort: AdapterReport };
  versions: { tfjs: string; ort: string };
  /** How each side is timed, for the report. */
  sync: string;
  data?: PrecheckData[];
}

export interface PeerBenchApi {
  ready: true;
  run(options: PeerBenchOptions): Promise<PeerBenchResult>;
}

declare global {
  interface Window {
    __peerBench?: PeerBenchApi;
    /** Set by bench/peers.ts (page.exposeFunction) to stream rows as they are measured. */
    __peerBenchOnRow?: (row: PeerRow) => unknown;
  }
}

/** Pre-check tolerances: |peer − ours| ≤ atol + rtol·|ours|. */
export const TOLERANCES = {
  /** Relative, on the scalar loss. */
  lossRel: 1e-3,
  /**
   * dA and dB are tiny (dy = (y − t)/N with N = T·d up to 4·10⁵), so the absolute part is relative to the
   * largest |gradient| of our side: atol = gradAtolRel·max|ours|, plus rtol·|ours| for f32 sums over T.
   */
  gradAtolRel: 1e-3,
  gradRtol: 1e-2,
  /** A and B after the first Adam step (an update of about lr per element): atol = paramAtolLr·lr. */
  paramAtolLr: 1e-2,
  /** The forward y against ORT. */
  forward: { atol: 1e-3, rtol: 1e-3 } as Tolerance,
} as const;

export const SYNC_DESCRIPTION =
  'train step: ours = one submit of forward, dy, Σdy², backward, AdamW×2, then a 4-byte mapAsync read-back of the ' +
  'loss; tfjs = optimizer.minimize(loss, true, [A, B]) then await loss.data() (submits the pending encoder and maps ' +
  'a staging copy of the loss). forward: x, weights and y GPU-resident on both sides; ours = one submit then ' +
  'queue.onSubmittedWorkDone(); ort = session.run(feeds = {x: GPU buffer}, fetches = {y: GPU buffer}) then ' +
  'queue.onSubmittedWorkDone() on the device handed to the EP.';

const LIMITS_FALLBACK = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
] as const;

/**
 * A device for a peer library on a fresh adapter of the given feature level, with every limit raised to what
 * the adapter offers and every optional feature but 'core-features-and-limits' (which would lift a
 * compatibility device to core), as the libraries would request for themselves.
 */
async function requestPeerDevice(featureLevel: FeatureLevel, label: string): Promise<{ adapter: GPUAdapter; device: GPUDevice }> {
  const gpu = browserGpu();
  if (!gpu) throw new Error('navigator.gpu is missing: WebGPU is not available in this browser');
  const adapter = await gpu.requestAdapter({ featureLevel, powerPreference: 'high-performance' });
  if (!adapter) throw new Error(`${label}: requestAdapter({featureLevel: '${featureLevel}'}) returned null`);
  const requiredFeatures = [...adapter.features].filter((f) => f !== 'core-features-and-limits') as GPUFeatureName[];
  const all: Record<string, number> = {};
  for (const key of LIMITS_FALLBACK) all[key] = adapter.limits[key];
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') all[key] = v;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label, requiredFeatures, requiredLimits: all });
  } catch {
    // Some limit the adapter lists may not be requestable: fall back to the ones compute work needs.
    const some: Record<string, number> = {};
    for (const key of LIMITS_FALLBACK) some[key] = adapter.limits[key];
    device = await adapter.requestDevice({ label, requiredFeatures, requiredLimits: some });
  }
  device.addEventListener('uncapturederror', (e) => {
    console.error(`[peers] ${label}: uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  });
  void device.lost.then((info) => {
    if (info.reason !== 'destroyed') console.error(`[peers] ${label}: device lost: ${info.message}`);
  });
  return { adapter, device };
}

interface Devices {
  featureLevel: FeatureLevel;
  ours: GpuContext;
  /** The profile chosen for our device (from the adapter, or measured). */
  oursKernels: KernelProfile;
  tfjs: { adapter: GPUAdapter; device: GPUDevice };
  ort: { adapter: GPUAdapter; device: GPUDevice };
}

let devices: Promise<Devices> | null = null;

async function setUp(featureLevel: FeatureLevel): Promise<Devices> {
  const ours = await acquireGpu(browserGpu(), {
    featureLevel,
    powerPreference: 'high-performance',
    onError: (e) => console.error(`[peers] ours: ${e.message}`),
  });
  await settleKernelProfile(ours);
  const tfjs = await requestPeerDevice(featureLevel, 'tfjs peer');
  await useTfjsDevice(tfjs.adapter, tfjs.device);
  const ort = await requestPeerDevice(featureLevel, 'ort peer');
  return { featureLevel, ours, oursKernels: ours.kernels, tfjs, ort };
}

async function getDevices(featureLevel: FeatureLevel): Promise<Devices> {
  devices ??= setUp(featureLevel);
  const d = await devices;
  if (d.featureLevel !== featureLevel) {
    throw new Error(`this page already runs on the ${d.featureLevel} adapter; reload it to use ${featureLevel}`);
  }
  return d;
}

/** The problem of one row. Seeds depend on the shape only, so every format of a shape sees the same data. */
export function makeProblem(T: number, d: number, r: number, format: WeightFormat): LoraProblem {
  const seed = T * 7919 + d * 104729 + r * 31;
  const w0Source = randomUniform(d * d, seed + 2, -0.1, 0.1);
  const w0Packed = packWeight(w0Source, d, d, format, 'linear', 'W0');
  const bound = 1 / Math.sqrt(d);
  return {
    T,
    d,
    r,
    scale: (2 * r) / r,
    x: randomUniform(T * d, seed + 1, -1, 1),
    target: randomUniform(T * d, seed + 5, -1, 1),
    w0Packed,
    w0: Float32Array.from(dequantizeWeight(w0Packed)),
    a: randomUniform(r * d, seed + 3, -bound, bound),
    b: randomUniform(d * r, seed + 4, -0.1, 0.1),
  };
}

function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  return m;
}

function report(
  row: string,
  peer: 'tfjs' | 'ort',
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance,
  include?: (i: number) => boolean,
): CheckReport {
  let a: ArrayLike<number> = actual;
  let e: ArrayLike<number> = expected;
  let index: number[] | null = null;
  if (include && actual.length === expected.length) {
    index = [];
    for (let i = 0; i < expected.length; i++) if (include(i)) index.push(i);
    a = index.map((i) => actual[i]);
    e = index.map((i) => expected[i]);
  }
  const r = checkTolerance(a, e, tolerance);
  const worstIndex = index && r.worstIndex >= 0 ? index[r.worstIndex] : r.worstIndex;
  const skipped = index ? expected.length - index.length : 0;
  const name = `${row}: ${peer} ${what} vs ours`;
  const message = r.pass
    ? `${name}: ok (worst ratio ${r.worstRatio.toPrecision(3)}, max |diff| ${r.maxAbsError.toExponential(2)}${skipped ? `, ${skipped} skipped` : ''})`
    : describeViolation(name, { ...r, worstIndex }, tolerance);
  return { row, peer, what, pass: r.pass, tolerance, worstRatio: r.worstRatio, worstIndex, actual: r.actual, expected: r.expected, maxAbsError: r.maxAbsError, skipped, message };
}

/** Compares TF.js's first train step with ours. */
export function compareTrainSteps(row: string, tf: TrainStepState, ours: TrainStepState): CheckReport[] {
  const T = TOLERANCES;
  const gradTol = (g: Float32Array): Tolerance => ({ atol: T.gradAtolRel * maxAbs(g), rtol: T.gradRtol });
  const tolA = gradTol(ours.dA);
  const tolB = gradTol(ours.dB);
  const paramTol: Tolerance = { atol: T.paramAtolLr * ADAM.lr, rtol: 0 };
  // An element whose gradient is within the gradient tolerance of 0 may step either way on either side.
  const clear = (g: Float32Array, tol: Tolerance) => (i: number) => Math.abs(g[i]) > 2 * (tol.atol + tol.rtol * Math.abs(g[i]));
  return [
    report(row, 'tfjs', 'loss', [tf.loss], [ours.loss], { atol: 0, rtol: T.lossRel }),
    report(row, 'tfjs', 'dA', tf.dA, ours.dA, tolA),
    report(row, 'tfjs', 'dB', tf.dB, ours.dB, tolB),
    report(row, 'tfjs', 'A after step', tf.a, ours.a, paramTol, clear(ours.dA, tolA)),
    report(row, 'tfjs', 'B after step', tf.b, ours.b, paramTol, clear(ours.dB, tolB)),
  ];
}

function median(v: number[]): number {
  const s = [...v].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Medians of `reps` alternated runs of each side, after `warmup` untimed runs of each. */
async function timePair(ours: () => Promise<unknown>, peer: () => Promise<unknown>, reps: number, warmup: number): Promise<{ ours: number; peer: number }> {
  for (let i = 0; i < warmup; i++) {
    await ours();
    await peer();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < reps; i++) {
    const order: [() => Promise<unknown>, number[]][] = [[ours, a], [peer, b]];
    if (i % 2 === 1) order.reverse();
    for (const [run, into] of order) {
      const t0 = performance.now();
      await run();
      into.push(performance.now() - t0);
    }
  }
  return { ours: median(a), peer: median(b) };
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

function log(line: string): void {
  console.log(`[peers] ${line}`);
  const pre = document.getElementById('log');
  if (pre) pre.textContent += `${line}\n`;
}

async function run(options: PeerBenchOptions): Promise<PeerBenchResult> {
  const featureLevel = options.featureLevel ?? 'core';
  const reps = options.reps;
  const warmup = options.warmup ?? 1;
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`reps must be a positive integer, got ${reps}`);
  const dev = await getDevices(featureLevel);
  dev.ours.kernels = options.kernels ?? dev.oursKernels;
  const result: PeerBenchResult = {
    ok: true,
    rows: [],
    checks: [],
    featureLevel,
    kernels: dev.ours.kernels,
    kernelsChosenBy: options.kernels ? 'caller' : dev.ours.kernelsChosenBy,
    adapters: { ours: dev.ours.report, tfjs: describeAdapter(dev.tfjs.adapter, featureLevel), ort: describeAdapter(dev.ort.adapter, featureLevel) },
    versions: { tfjs: tfjsVersion(), ort: ortVersion() },
    sync: SYNC_DESCRIPTION,
  };
  if (options.returnData) result.data = [];
  const emit = async (row: PeerRow) => {
    result.rows.push(row);
    log(`${row.name} ${row.shape}: ours ${row.ours_ms} ms, ${row.peer} ${row.peer_ms} ms, ratio ${row.ratio}`);
    await window.__peerBenchOnRow?.(row);
  };
  const fail = (message: string) => {
    result.ok = false;
    result.failure ??= message;
  };

  for (const { T, d, r, formats } of options.shapes) {
    // Quantized W0 against f32 at the same shape, timed side by side (ours only): kept for the whole shape.
    const f32Side = formats.length > 1 && formats.includes('f32') && !options.precheckOnly ? new OursLora(dev.ours, makeProblem(T, d, r, 'f32')) : null;
    try {
      for (const format of formats) {
        const shape = `T=${T} d=${d} r=${r}`;
        const trainName = `LoRA train step (fwd+bwd+AdamW), W0 ${format}`;
        const fwdName = `LoRA forward, W0 ${format}`;
        log(`${shape} W0 ${format}: preparing`);
        const problem = makeProblem(T, d, r, format);
        const ours = new OursLora(dev.ours, problem);
        const tfjs = new TfjsLoraPeer(problem, options.perturb === 'tfjs');
        let ort: OrtLoraPeer | null = null;
        try {
          ort = await OrtLoraPeer.create(dev.ort.device, problem, options.perturb === 'ort' ? 'scale' : 'none');
          // 1. Pre-checks, on identical inputs and before any timing.
          log(`${shape} W0 ${format}: pre-check (first runs compile the pipelines)`);
          const oursStep = await ours.checkedTrainStep();
          const tfStep = await tfjs.checkedTrainStep();
          const trainChecks = compareTrainSteps(`${trainName} ${shape}`, tfStep, oursStep);
          await ours.forward();
          await ort.forward();
          const oursY = await ours.readForward();
          const ortY = await ort.readOutput();
          const fwdCheck = report(`${fwdName} ${shape}`, 'ort', 'y', ortY, oursY, TOLERANCES.forward);
          for (const c of [...trainChecks, fwdCheck]) {
            result.checks.push(c);
            log(c.message);
            if (!c.pass) fail(`pre-check failed: ${c.message}`);
          }
          if (result.data) {
            const arr = (v: ArrayLike<number>) => Array.from(v);
            result.data.push({
              T, d, r, format, scale: problem.scale, lr: ADAM.lr,
              x: arr(problem.x), target: arr(problem.target), w0: arr(problem.w0), a: arr(problem.a), b: arr(problem.b),
              ours: { loss: oursStep.loss, dA: arr(oursStep.dA), dB: arr(oursStep.dB), a: arr(oursStep.a), b: arr(oursStep.b), y: arr(oursY) },
              tfjs: { loss: tfStep.loss, dA: arr(tfStep.dA), dB: arr(tfStep.dB), a: arr(tfStep.a), b: arr(tfStep.b) },
              ort: { y: arr(ortY) },
            });
          }
          if (!result.ok && !options.precheckOnly) return result;
          if (options.precheckOnly) continue;

          // 2. Timing.
          log(`${shape} W0 ${format}: timing ${reps} repeats`);
          const train = await timePair(() => ours.trainStep(), () => tfjs.trainStep(), reps, warmup);
          await emit({ name: trainName, shape, ours_ms: round(train.ours, 2), peer: 'tfjs-webgpu', peer_ms: round(train.peer, 2), ratio: round(train.peer / train.ours, 3) });
          const o = ort;
          const fwd = await timePair(() => ours.forward(), () => o.forward(), reps, warmup);
          await emit({ name: fwdName, shape, ours_ms: round(fwd.ours, 2), peer: 'ort-webgpu', peer_ms: round(fwd.peer, 2), ratio: round(fwd.peer / fwd.ours, 3) });
          if (f32Side && format !== 'f32') {
            log(`${shape} W0 ${format}: timing against W0 f32, ${reps} repeats`);
            const vsTrain = await timePair(() => ours.trainStep(), () => f32Side.trainStep(), reps, warmup);
            await emit({ name: `LoRA train step, W0 ${format} vs f32`, shape, ours_ms: round(vsTrain.ours, 2), peer: OURS_F32, peer_ms: round(vsTrain.peer, 2), ratio: round(vsTrain.peer / vsTrain.ours, 3) });
            const vsFwd = await timePair(() => ours.forward(), () => f32Side.forward(), reps, warmup);
            await emit({ name: `LoRA forward, W0 ${format} vs f32`, shape, ours_ms: round(vsFwd.ours, 2), peer: OURS_F32, peer_ms: round(vsFwd.peer, 2), ratio: round(vsFwd.peer / vsFwd.ours, 3) });
          }
          dev.ours.assertHealthy();
        } catch (e) {
          fail(`${shape} W0 ${format}: ${(e as Error).stack ?? String(e)}`);
          return result;
        } finally {
          ours.destroy();
          tfjs.dispose();
          await ort?.release();
        }
      }
    } finally {
      f32Side?.destroy();
    }
  }
  return result;
}

window.__peerBench = { ready: true, run };
log('ready');
