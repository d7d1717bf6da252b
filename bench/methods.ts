/**
 * `npm run bench:methods [-- --steps 30 --batch 8 --seq 64 --json]`
 *
 * Every PEFT method of the studio on the embedded model (austen-2m) and the pirate sample, through the training
 * pipeline the CLI and the studio use, with the same data, steps and seed: PEFT's trainable-parameter counts, the
 * size of adapter_model.safetensors, the loss of the first and the last step, and the median time per step. A
 * benchmark, not a test; the learning rates are each method's own (prompt learning needs larger ones than LoRA).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GpuModel } from '../src/engine/gpu-model';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import type { MethodId } from '../src/methods/method';
import { DEFAULT_MODEL, sampleDataset } from '../src/model-io/embedded';
import { loadModel } from '../src/model-io/load-model';
import { NodeFolderSource } from '../src/model-io/node-folder-source';
import { loadTokenizer } from '../src/model-io/tokenizer';
import { DEFAULT_TRAINING } from '../src/trainer/trainer';
import { runTraining, type TrainingBase } from '../src/trainer/training-run';

const { values: opts } = parseArgs({
  options: {
    steps: { type: 'string', default: '30' },
    batch: { type: 'string', default: '8' },
    seq: { type: 'string', default: '64' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const steps = Number(opts.steps);
const batch = Number(opts.batch);
const seq = Number(opts.seq);

const RUNS: { name: string; method: MethodId; options: Record<string, unknown>; lr: number }[] = [
  { name: 'LoRA r 8, all linear layers', method: 'lora', options: { r: 8, lora_alpha: 16, target_modules: 'all-linear' }, lr: 5e-3 },
  { name: 'LoRA r 8, rsLoRA', method: 'lora', options: { r: 8, lora_alpha: 16, target_modules: 'all-linear', use_rslora: true }, lr: 5e-3 },
  { name: 'prompt tuning, 10 tokens, TEXT init', method: 'prompt-tuning', options: { num_virtual_tokens: 10, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'Answer like a pirate:' }, lr: 3e-2 },
  { name: 'P-tuning, 10 tokens, MLP', method: 'p-tuning', options: { num_virtual_tokens: 10 }, lr: 3e-3 },
  { name: 'P-tuning, 10 tokens, LSTM', method: 'p-tuning', options: { num_virtual_tokens: 10, encoder_reparameterization_type: 'LSTM', encoder_hidden_size: 64 }, lr: 3e-3 },
  { name: 'prefix tuning, 10 tokens', method: 'prefix-tuning', options: { num_virtual_tokens: 10 }, lr: 3e-2 },
  { name: 'prefix tuning, 10 tokens, projection', method: 'prefix-tuning', options: { num_virtual_tokens: 10, prefix_projection: true }, lr: 3e-3 },
];

const folder = join(import.meta.dirname, '..', 'public', DEFAULT_MODEL.folder);
const loaded = await loadModel(new NodeFolderSource(folder));
const tokenizer = loadTokenizer(loaded.tokenizerJson, loaded.tokenizerConfig);
const pirate = sampleDataset('pirate')!;
const text = readFileSync(join(import.meta.dirname, '..', 'public', pirate.file), 'utf8');
const gpu = await acquireNodeGpu();
const model = GpuModel.upload(gpu, loaded.config, loaded.weights, 'f32');
const base: TrainingBase = {
  gpu, config: loaded.config, weights: loaded.weights, tokenizer, model, format: 'f32', nameOrPath: DEFAULT_MODEL.id, revision: null, source: 'austen-2m',
};
const rows = [];
try {
  for (const r of RUNS.filter((x) => !opts.only || x.method === opts.only)) {
    const times: number[] = [];
    let last = 0;
    const result = await runTraining({
      data: { text, fileName: 'pirate.jsonl' },
      loadBase: async () => base,
      adapter: { method: r.method, options: r.options },
      settings: { ...DEFAULT_TRAINING, lr: r.lr, schedule: 'constant', maxSteps: steps, batchSize: batch, seed: 42, checkpointEvery: 0 },
      options: { maxLength: seq, valSplit: 0, skipBadRecords: false },
      checkpoints: null,
      resume: false,
      checkpointAtEnd: false,
      log: () => undefined,
      onEvent: (e) => {
        const now = performance.now();
        if (e.kind === 'step' && e.log.step > 1) times.push(now - last);
        last = now;
      },
    });
    times.sort((a, b) => a - b);
    const { trainable, all } = result.adapter.plan.counts;
    const row = {
      method: r.name,
      lr: r.lr,
      trainable,
      trainable_percent: Number(((100 * trainable) / all).toFixed(4)),
      file_bytes: result.files.get('adapter_model.safetensors')!.length,
      first_loss: Number(result.log[0].loss.toFixed(3)),
      last_loss: Number(result.log.at(-1)!.loss.toFixed(3)),
      ms_per_step: Math.round(times[Math.floor(times.length / 2)]),
      steps,
    };
    result.adapter.destroy();
    rows.push(row);
    if (opts.json) console.log(JSON.stringify(row));
    else process.stderr.write(`${row.method}: loss ${row.first_loss} → ${row.last_loss}, ${row.ms_per_step} ms/step\n`);
  }
} finally {
  model.destroy();
  gpu.destroy();
}
if (!opts.json) {
  console.log(`austen-2m, pirate sample, ${steps} steps of batch ${batch} (≤ ${seq} tokens), constant lr, seed 42, W0 f32`);
  console.log('| method | lr | trainable params | trainable % | adapter_model.safetensors | loss, step 1 → last | ms/step |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.method} | ${r.lr} | ${r.trainable.toLocaleString('en-US')} | ${r.trainable_percent} | ${(r.file_bytes / 1024).toFixed(1)} KiB | ${r.first_loss} → ${r.last_loss} | ${r.ms_per_step} |`);
  }
}
process.exit(0);
