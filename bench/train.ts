/**
 * `npm run bench:train [-- --json] [-- --steps N] [-- --batch B] [-- --seq T]`
 *
 * Training throughput (a benchmark, not a test): LoRA training steps through the real trainer on each tiny model
 * architecture and the embedded default model, with W0 in each weight format. Reports the median ms per optimizer
 * step, tokens per second, and the GPU memory the run reserved: the weights (W0 in the format, embeddings, norms)
 * and the activations of one training pass; and, from the device's dispatch cache, per step: the kernel dispatches,
 * the bind groups (each with a uniform buffer) created for them rather than reused, the uniform bytes those
 * took, and the scratch buffers created rather than taken from the pool.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { countersSince, type DispatchCounters } from '../src/gpu/dispatch-cache';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import { GpuModel, plannedWeightMemory } from '../src/engine/gpu-model';
import { GpuLoraSet, loraModuleInits } from '../src/methods/lora/gpu';
import { WEIGHT_FORMATS } from '../src/kernels/weight-format';
import type { TokenizedExample } from '../src/data/tokenize';
import { DEFAULT_MODEL } from '../src/model-io/embedded';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { NodeFolderSource } from '../src/model-io/node-folder-source';
import { makeTinyModel } from '../tests/fixtures/tiny-models';
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
  dispatches_per_step: number;
  bind_groups_per_step: number;
  uniform_bytes_per_step: number;
  scratch_created_per_step: number;
  /** Activation buffers the run's pool had to create in a step (0 once every shape has been seen). */
  activation_buffers_created_per_step: number;
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
  },
  allowPositionals: true,
});
const steps = Number(opts.steps);
const batch = Number(opts.batch);
const seq = Number(opts.seq);
for (const [name, v] of [['steps', steps], ['batch', batch], ['seq', seq]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
}

async function load(name: string): Promise<LoadedModel> {
  if (name === 'default') return loadModel(new NodeFolderSource(join(import.meta.dirname, '..', 'public', DEFAULT_MODEL.folder)));
  if (name !== 'gpt2' && name !== 'llama' && name !== 'qwen2') throw new Error(`--models: unknown model "${name}"`);
  return loadModel(new BrowserFilesSource([...makeTinyModel(name)].map(([file, bytes]) => new File([bytes as Uint8Array<ArrayBuffer>], file))));
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

const gpu = await acquireNodeGpu();
const rows: Row[] = [];
try {
  for (const name of opts.models.split(',')) {
    const loaded = await load(name.trim());
    const c = loaded.config;
    const loraConfig = makeLoraConfig({ r: 8, lora_alpha: 16, target_modules: 'all-linear' }, c, { nameOrPath: name });
    const targets = resolveLoraTargets(loraConfig, c);
    for (const format of WEIGHT_FORMATS) {
      const model = GpuModel.upload(gpu, c, loaded.weights, format);
      const lora = GpuLoraSet.create(gpu, model, loraModuleInits(loraConfig, targets, initLoraWeights(targets, true, 1), loaded.weights));
      // One warm-up step compiles the pipelines; the measured steps follow.
      const settings = { ...DEFAULT_TRAINING, maxSteps: steps + 1, batchSize: batch, lr: 1e-3, checkpointEvery: 0 };
      const trainer = new Trainer(gpu, model, lora, examples(c.vocabSize, batch * (steps + 1)), [], settings, 0);
      const times: number[] = [];
      const perStep: DispatchCounters[] = [];
      let activationBytes = 0;
      let last = performance.now();
      let lastCounters = gpu.dispatchCache.counters;
      const buffersCreated: number[] = [];
      let lastCreated = 0;
      try {
        await trainer.run((e) => {
          if (e.kind !== 'step') return;
          const now = performance.now();
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
      } finally {
        trainer.destroy();
        lora.destroy();
        model.destroy();
      }
      const ms = median(times);
      const perStepMedian = (count: (c: DispatchCounters) => number) => median(perStep.map(count));
      const row: Row = {
        model: name === 'default' ? DEFAULT_MODEL.id : `tiny-${name}`,
        format,
        ms_per_step: Math.round(ms * 10) / 10,
        tokens_per_s: Math.round(((batch * (seq - 1)) / ms) * 1000 * 10) / 10,
        weight_bytes: plannedWeightMemory(c, format).total,
        activation_bytes: activationBytes,
        dispatches_per_step: perStepMedian((c) => c.hits + c.misses),
        bind_groups_per_step: perStepMedian((c) => c.misses),
        uniform_bytes_per_step: perStepMedian((c) => c.uniformBytesCreated),
        scratch_created_per_step: perStepMedian((c) => c.scratchCreated),
        activation_buffers_created_per_step: median(buffersCreated),
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
  const header = ['model', 'W0', 'ms/step', 'tokens/s', 'weights', 'activations', 'dispatches/step', 'new bind groups/step', 'new uniform bytes/step', 'new scratch/step', 'new activation buffers/step'];
  const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  const lines = rows.map((r) => [
    r.model, r.format, r.ms_per_step.toFixed(1), r.tokens_per_s.toFixed(1), kib(r.weight_bytes), kib(r.activation_bytes),
    String(r.dispatches_per_step), String(r.bind_groups_per_step), `${(r.uniform_bytes_per_step / 1024).toFixed(1)} KiB`, String(r.scratch_created_per_step),
    String(r.activation_buffers_created_per_step),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(`LoRA r=8 on all linear layers, batch ${batch} × ${seq} tokens, median of ${steps} steps after one warm-up step`);
  console.log('new bind groups, uniforms and scratch: created in a step rather than reused from the dispatch cache; new activation buffers: not reused from the activation pool');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
}
