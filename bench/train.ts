/**
 * `npm run bench:train [-- --json] [--steps N] [--batch B] [--seq T] [--models gpt2,llama,qwen2,default] [--formats f32,q8,q4,nf4]
 *   [--kernels tiled|direct] [--profile [--profile-method timestamps|replay]] [--peer torch] [--gradient-checkpointing]
 *   [--like-layers N]`
 *
 * --models also takes the real models' shapes (smollm2-135m, smollm2-360m, qwen2.5-0.5b, tinyllama-1.1b: random
 * weights with the real config.json, `make-tiny-model --like`), with --like-layers N of their layers (default all).
 * Each row also gives the memory plan's activation peak (engine/memory-plan.ts) next to the measured one.
 *
 * Training throughput (a benchmark, not a test): LoRA training steps through the real trainer on each tiny model
 * architecture and the embedded default model, with W0 in each weight format. Reports the median ms per optimizer
 * step, tokens per second, and the GPU memory the run reserved: the weights (W0 in the format, embeddings, norms)
 * and the activations of one training pass; and, from the device's dispatch cache, per step: the kernel dispatches,
 * the bind groups (each with a uniform buffer) created for them rather than reused, the uniform bytes those
 * took, and the scratch buffers created rather than taken from the pool. Also:
 * - the first step's latency from the start of the run (shader compiles included), and the pipelines compiled;
 * - the step's effective GFLOP/s (step-work.ts: the matmuls, LoRA's rank products and attention) against the
 *   rate of the device's own forward matmul on the model's linear shapes, measured in the same run;
 * - with --profile, the GPU time per kernel, from timestamp queries, or where the adapter has none (or with
 *   --profile-method replay) from each dispatch replayed alone (GpuProfiler);
 * - with --peer torch, the same step in PyTorch on the CPU with one thread and with all of them (torch-peer.ts),
 *   when python3 with torch is installed, and how many times faster it is.
 * The measured steps start once the fast kernel variants that compile in the background after the first step
 * are in (PipelineCache.tiered).
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterLine } from '../src/gpu/device';
import { GpuProfiler, type KernelTime } from '../src/gpu/gpu-profiler';
import { loraStepFlops, matmulGflops } from './step-work';
import { allThreads, blasWarning, runTorchPeer, torchPeerAvailable } from './torch-peer';
import { countersSince, type DispatchCounters } from '../src/gpu/dispatch-cache';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import { GpuModel } from '../src/engine/gpu-model';
import { plannedWeightMemory } from '../src/engine/weight-memory';
import { GpuLoraSet, loraModuleInits } from '../src/methods/lora/gpu';
import { WEIGHT_FORMATS } from '../src/kernels/weight-format';
import type { TokenizedExample } from '../src/data/tokenize';
import { DEFAULT_MODEL } from '../src/model-io/embedded';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { makeLikeModel, makeTinyModel } from '../tests/fixtures/tiny-models';
import { isModelPresetName, MODEL_PRESET_NAMES } from '../src/model/presets';
import { passActivations } from '../src/engine/memory-plan';
import { planMethodOf } from '../src/methods/plan-method';
import { makeLoraConfig } from '../src/peft/lora-config';
import { initLoraWeights } from '../src/peft/lora-init';
import { resolveLoraTargets } from '../src/peft/lora-targets';
import { DEFAULT_TRAINING, Trainer } from '../src/trainer/trainer';
import { mulberry32 } from '../src/util/random';

interface Row {
  model: string;
  format: string;
  ms_per_step: number;
  tokens_per_s: number;
  weight_bytes: number;
  activation_bytes: number;
  /** The memory plan's activation peak for the same pass (engine/memory-plan.ts). */
  planned_activation_bytes: number;
  dispatches_per_step: number;
  bind_groups_per_step: number;
  uniform_bytes_per_step: number;
  scratch_created_per_step: number;
  /** Activation buffers the run's pool had to create in a step (0 once every shape has been seen). */
  activation_buffers_created_per_step: number;
  /** From starting the run to the first step's end: compiles, uploads and one step. */
  first_step_ms: number;
  /** Pipelines compiled in the run, and the CPU time their compiles took. */
  pipelines_compiled: number;
  compile_ms: number;
  /** Step FLOPs (step-work.ts) over the step time, and the device's forward matmul rate on the model's shapes. */
  step_gflops: number;
  matmul_gflops: number;
  /** With --peer torch: the same step in PyTorch on the CPU (f32), ms per step with one thread and with all of them. */
  torch_ms_1_thread?: number;
  torch_ms_all_threads?: number;
  torch_threads?: number;
  /** GPU time per kernel per step (timestamp queries), with --profile. */
  profile?: KernelTime[];
  steps: number;
  batch: number;
  seq: number;
}

const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    steps: { type: 'string', default: '4' },
    batch: { type: 'string', default: '4' },
    seq: { type: 'string', default: '32' },
    models: { type: 'string', default: 'gpt2,llama,qwen2,default' },
    formats: { type: 'string', default: WEIGHT_FORMATS.join(',') },
    profile: { type: 'boolean', default: false },
    'profile-method': { type: 'string' },
    kernels: { type: 'string' },
    peer: { type: 'string' },
    'gradient-checkpointing': { type: 'boolean', default: false },
    'like-layers': { type: 'string' },
  },
  allowPositionals: true,
});
const formats = opts.formats.split(',').map((f) => {
  const format = WEIGHT_FORMATS.find((w) => w === f.trim());
  if (!format) throw new Error(`--formats: unknown weight format "${f}" (expected ${WEIGHT_FORMATS.join(', ')})`);
  return format;
});
const steps = Number(opts.steps);
const batch = Number(opts.batch);
const seq = Number(opts.seq);
for (const [name, v] of [['steps', steps], ['batch', batch], ['seq', seq]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
}

const likeLayers = opts['like-layers'] === undefined ? undefined : Number(opts['like-layers']);
if (likeLayers !== undefined && (!Number.isInteger(likeLayers) || likeLayers < 1)) throw new Error('--like-layers must be a positive integer');

/** The model's files by name: the embedded default model's from public/, a tiny model's or a real shape's made in memory. */
function modelFiles(name: string): Map<string, Uint8Array> {
  if (isModelPresetName(name)) return makeLikeModel(name, { layers: likeLayers });
  if (name === 'default') {
    const folder = join(import.meta.dirname, '..', 'public', DEFAULT_MODEL.folder);
    return new Map(DEFAULT_MODEL.files.map((file) => [file, new Uint8Array(readFileSync(join(folder, file)))]));
  }
  if (name !== 'gpt2' && name !== 'llama' && name !== 'qwen2') throw new Error(`--models: unknown model "${name}" (expected gpt2, llama, qwen2, default, ${MODEL_PRESET_NAMES.join(', ')})`);
  return makeTinyModel(name);
}

function load(files: Map<string, Uint8Array>): Promise<LoadedModel> {
  return loadModel(new BrowserFilesSource([...files].map(([file, bytes]) => new File([bytes as Uint8Array<ArrayBuffer>], file))));
}

/** Random token sequences of exactly `seq` tokens, every position trained. */
function examples(vocab: number, n: number): TokenizedExample[] {
  const rng = mulberry32(7);
  return Array.from({ length: n }, (_, i) => {
    const ids = Array.from({ length: seq }, () => Math.floor(rng() * vocab));
    return { inputIds: ids, labels: ids.slice(), line: i + 1 };
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

if (opts.kernels !== undefined && opts.kernels !== 'tiled' && opts.kernels !== 'direct') throw new Error(`--kernels must be tiled or direct, got "${opts.kernels}"`);
if (opts.peer !== undefined && opts.peer !== 'torch') throw new Error(`--peer must be torch, got "${opts.peer}"`);
const torch = opts.peer === 'torch' ? await torchPeerAvailable() : null;
if (torch && !torch.ok) process.stderr.write(`--peer torch skipped: ${torch.reason}\n`);
else if (torch?.ok) process.stderr.write(`--peer torch: ${torch.python}, torch ${torch.version}\n`);

/** The same step in PyTorch, one thread and all threads, when the peer is available. */
async function torchPeer(files: Map<string, Uint8Array>): Promise<{ one: number; all: number; threads: number } | null> {
  if (!torch?.ok) return null;
  const threads = allThreads();
  const one = await runTorchPeer(files, { batch, seq, steps: Math.max(steps, 5), threads: 1 });
  const warning = blasWarning(one.blas);
  if (warning) process.stderr.write(`${warning}\n`);
  const all = await runTorchPeer(files, { batch, seq, steps: Math.max(steps, 5), threads });
  return { one: Math.round(one.msPerStep * 10) / 10, all: Math.round(all.msPerStep * 10) / 10, threads };
}

const gpu = await acquireNodeGpu(opts.kernels ? { kernels: opts.kernels } : {});
const rows: Row[] = [];
const profileMethod = opts['profile-method'];
if (profileMethod !== undefined && profileMethod !== 'timestamps' && profileMethod !== 'replay') throw new Error(`--profile-method must be timestamps or replay, got "${profileMethod}"`);
if (opts.profile) {
  gpu.profiler = GpuProfiler.create(gpu.device, profileMethod);
  process.stderr.write(`--profile: ${gpu.profiler.method === 'timestamps' ? 'timestamp queries' : 'each dispatch replayed alone (the adapter has no timestamp-query)'} on ${adapterLine(gpu.report)}\n`);
}
try {
  for (const name of opts.models.split(',').map((m) => m.trim())) {
    const files = modelFiles(name);
    const loaded = await load(files);
    const peer = torch ? await torchPeer(files) : null;
    const c = loaded.config;
    const loraOptions = { r: 8, lora_alpha: 16, target_modules: 'all-linear' };
    const loraConfig = makeLoraConfig(loraOptions, c, { nameOrPath: name });
    const gradientCheckpointing = opts['gradient-checkpointing'] ?? false;
    const planned = passActivations({ config: c, batch, seqLen: seq, format: 'f32', gradientCheckpointing, method: planMethodOf('lora', loraOptions, c, { nameOrPath: name }), limits: gpu.device.limits });
    const targets = resolveLoraTargets(loraConfig, c);
    for (const format of formats) {
      const model = GpuModel.upload(gpu, c, loaded.weights, format);
      const lora = GpuLoraSet.create(gpu, model, loraModuleInits(loraConfig, targets, initLoraWeights(targets, true, 1), loaded.weights));
      // One warm-up step compiles the pipelines; the measured steps follow.
      const settings = { ...DEFAULT_TRAINING, maxSteps: steps + 1, batchSize: batch, lr: 1e-3, checkpointEvery: 0, gradientCheckpointing };
      const trainer = new Trainer(gpu, model, lora, examples(c.vocabSize, batch * (steps + 1)), [], settings, 0);
      const times: number[] = [];
      const perStep: DispatchCounters[] = [];
      let activationBytes = 0;
      const started = performance.now();
      let last = started;
      let firstStepMs = 0;
      let lastCounters = gpu.dispatchCache.counters;
      const buffersCreated: number[] = [];
      let lastCreated = 0;
      let compiles = 0;
      let compileMs = 0;
      const stopObserving = gpu.pipelines.observe((use) => {
        if (!use.compiled) return;
        compiles++;
        compileMs += use.ms;
      });
      let profile: KernelTime[] | undefined;
      try {
        await trainer.run(async (e) => {
          if (e.kind !== 'step') return;
          let now = performance.now();
          // The warm-up step's kernel times are left out of the profile, and the measured steps start once the
          // fast kernel variants compiling in the background since the first step (PipelineCache.tiered) are in.
          if (e.log.step === 1) {
            firstStepMs = now - started;
            gpu.profiler?.discard();
            await gpu.pipelines.settled();
            now = performance.now();
          }
          const counters = gpu.dispatchCache.counters;
          const created = trainer.activationStats().created;
          if (e.log.step > 1) {
            times.push(now - last);
            perStep.push(countersSince(counters, lastCounters));
            buffersCreated.push(created - lastCreated);
          }
          lastCreated = created;
          activationBytes = Math.max(activationBytes, e.activationBytes);
          last = now;
          lastCounters = counters;
        });
        if (gpu.profiler) profile = (await gpu.profiler.drain()).map((k) => ({ ...k, ms: k.ms / steps, dispatches: k.dispatches / steps }));
      } finally {
        stopObserving();
        trainer.destroy();
        lora.destroy();
      }
      const ms = median(times);
      const stepFlops = loraStepFlops(model, batch, seq, 8);
      const matmul = await matmulGflops(gpu, model, batch * seq);
      model.destroy();
      const perStepMedian = (count: (c: DispatchCounters) => number) => median(perStep.map(count));
      const row: Row = {
        model: name === 'default' ? DEFAULT_MODEL.id : isModelPresetName(name) ? `${name} (${c.numLayers} layers)${gradientCheckpointing ? ', checkpointing' : ''}` : `tiny-${name}`,
        format,
        ms_per_step: Math.round(ms * 10) / 10,
        tokens_per_s: Math.round(((batch * (seq - 1)) / ms) * 1000 * 10) / 10,
        weight_bytes: plannedWeightMemory(c, format).total,
        activation_bytes: activationBytes,
        planned_activation_bytes: planned.tensorBytes,
        dispatches_per_step: perStepMedian((c) => c.hits + c.misses),
        bind_groups_per_step: perStepMedian((c) => c.misses),
        uniform_bytes_per_step: perStepMedian((c) => c.uniformBytesCreated),
        scratch_created_per_step: perStepMedian((c) => c.scratchCreated),
        activation_buffers_created_per_step: median(buffersCreated),
        first_step_ms: Math.round(firstStepMs),
        pipelines_compiled: compiles,
        compile_ms: Math.round(compileMs),
        step_gflops: Math.round((stepFlops / ms / 1e6) * 1000) / 1000,
        matmul_gflops: Math.round(matmul * 1000) / 1000,
        profile,
        // The peer runs in float32: compare it with our f32 row.
        ...(peer && format === 'f32' ? { torch_ms_1_thread: peer.one, torch_ms_all_threads: peer.all, torch_threads: peer.threads } : {}),
        steps,
        batch,
        seq,
      };
      rows.push(row);
      if (opts.json) console.log(JSON.stringify(row));
      else process.stderr.write(`${row.model} ${format}: ${row.ms_per_step} ms/step\n`);
    }
  }
} finally {
  gpu.destroy();
}

if (!opts.json) {
  const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  printTable(
    ['model', 'W0', 'ms/step', 'tokens/s', 'first step', 'compiles', 'step GFLOP/s', 'matmul GFLOP/s', 'step/matmul', 'dispatches/step', 'new bind groups/step', 'new scratch/step', 'weights', 'activations', 'planned'],
    rows.map((r) => [
      r.model, r.format, r.ms_per_step.toFixed(1), r.tokens_per_s.toFixed(1), `${(r.first_step_ms / 1000).toFixed(1)} s`,
      `${r.pipelines_compiled} in ${(r.compile_ms / 1000).toFixed(1)} s`, r.step_gflops.toFixed(2), r.matmul_gflops.toFixed(2),
      `${Math.round((100 * r.step_gflops) / r.matmul_gflops)} %`, String(r.dispatches_per_step), String(r.bind_groups_per_step),
      String(r.scratch_created_per_step), kib(r.weight_bytes), kib(r.activation_bytes), kib(r.planned_activation_bytes),
    ]),
    `LoRA r=8 on all linear layers, batch ${batch} × ${seq} tokens, median of ${steps} steps after one warm-up step ` +
      '(first step: from the start of the run, compiles included; compiles: pipelines compiled in the run, and their CPU time; ' +
      'new bind groups and scratch: created in a step rather than reused)',
  );
  const peerRows = rows.filter((r) => r.torch_ms_1_thread !== undefined);
  if (peerRows.length > 0) {
    printTable(
      ['model', 'W0', 'ours ms/step', 'torch 1 thread', 'ours / torch', 'torch all threads', 'ours / torch all'],
      peerRows.map((r) => [
        r.model, r.format, r.ms_per_step.toFixed(1), r.torch_ms_1_thread!.toFixed(1), `${(r.ms_per_step / r.torch_ms_1_thread!).toFixed(1)}×`,
        `${r.torch_ms_all_threads!.toFixed(1)} (${r.torch_threads})`, `${(r.ms_per_step / r.torch_ms_all_threads!).toFixed(1)}×`,
      ]),
      '\nThe same step in PyTorch on the CPU (float32, the same shapes, LoRA targets, clipping and AdamW; bench/peers/torch_lora_step.py): ours / torch above 1 means PyTorch is faster',
    );
  }
  for (const r of rows) {
    if (!r.profile) continue;
    const total = r.profile.reduce((a, k) => a + k.ms, 0);
    printTable(
      ['kernel', 'GPU ms/step', 'share', 'dispatches/step'],
      [
        ...r.profile.map((k) => [k.kernel, k.ms.toFixed(1), `${((100 * k.ms) / total).toFixed(1)} %`, String(k.dispatches)]),
        ['all kernels', total.toFixed(1), '100 %', String(r.profile.reduce((a, k) => a + k.dispatches, 0))],
      ],
      `\nGPU time per kernel (${gpu.profiler?.method === 'replay' ? 'each dispatch replayed alone, submit included' : 'timestamp queries'}), ${r.model} ${r.format}: ${total.toFixed(0)} ms of the ${r.ms_per_step.toFixed(0)} ms step`,
    );
  }
}

/** Prints a title and a table: the first column left-aligned, the others right-aligned (the first two for the main table). */
function printTable(header: string[], lines: string[][], title: string): void {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((cell, i) => (i < 2 && header[1] === 'W0' ? cell.padEnd(widths[i]) : i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(title);
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
}
