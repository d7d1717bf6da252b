/**
 * `npm run bench:deploy [-- --tokens 64 --reps 3 --json]`
 *
 * The deployed model against the studio's own generation, on the embedded model (austen-2m) with a LoRA on every
 * linear layer: the ONNX export's time and file sizes (float32, q8, q4), then greedy KV-cache generation of the same
 * prompt by the studio's engine (WebGPU, the baseline) and by each ONNX file on onnxruntime-web (wasm EP, Node),
 * each the median of several runs, as tokens per second and as a ratio to the engine, and whether each writes the
 * engine's tokens. A benchmark, not a test.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { generate } from '../src/engine/generate';
import { GpuModel } from '../src/engine/gpu-model';
import { OnnxCausalLM } from '../src/deploy/onnx/onnx-causal-lm';
import { exportOnnx } from '../src/deploy/onnx-export';
import { adapterLine } from '../src/gpu/device';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import { loadAdapterFiles } from '../src/methods/runtimes';
import { DEFAULT_MODEL } from '../src/model-io/embedded';
import { loadModel } from '../src/model-io/load-model';
import { NodeFolderSource } from '../src/model-io/node-folder-source';
import { loadTokenizer } from '../src/model-io/tokenizer';
import { linearModules } from '../src/model/weight-names';
import { randomLoraFiles } from '../tests/helpers/random-lora-files';

const { values: opts } = parseArgs({
  options: { tokens: { type: 'string', default: '64' }, reps: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const maxNewTokens = Number(opts.tokens);
const reps = Number(opts.reps);

async function median<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  let value = await run(); // warm-up (shader compiles, session start)
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    value = await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], value };
}

const folder = join(import.meta.dirname, '..', 'public', DEFAULT_MODEL.folder);
const source = () => new NodeFolderSource(folder);
const loaded = await loadModel(source());
const tokenizer = loadTokenizer(loaded.tokenizerJson, loaded.tokenizerConfig);
const targets = [...new Set(linearModules(loaded.config).map((m) => m.shortName))];
const lora = randomLoraFiles(loaded.config, loaded.weights, { targets, r: 8, alpha: 16, seed: 1 });
const prompt = tokenizer.encode('Sir Thomas Bertram said, "');
const greedy = { maxNewTokens, eosTokenIds: [] as number[] };

const t0 = performance.now();
const exported = await exportOnnx(source(), lora.files, { quants: ['q8', 'q4'], layout: 'v3' });
const exportMs = performance.now() - t0;

const gpu = await acquireNodeGpu();
const model = GpuModel.upload(gpu, loaded.config, loaded.weights, 'f32');
const adapter = loadAdapterFiles({ gpu, config: loaded.config, weights: loaded.weights, tokenizer, model, nameOrPath: DEFAULT_MODEL.id, revision: null }, lora.files);
const engine = await median(() => generate(gpu, model, adapter, prompt, greedy));

const rows = [{ runtime: `engine (WebGPU: ${adapterLine(gpu.report)})`, file: '-', mib: 0, ms: engine.ms, same: true }];
for (const file of ['onnx/model.onnx', 'onnx/model_quantized.onnx', 'onnx/model_q4.onnx']) {
  const bytes = exported.files.get(file)!;
  const lm = await OnnxCausalLM.create({ model: bytes }, loaded.config, { kind: 'wasm' });
  const run = await median(() => lm.generate(prompt, greedy));
  rows.push({ runtime: lm.runtime, file, mib: bytes.length / 2 ** 20, ms: run.ms, same: run.value.tokens.join() === engine.value.tokens.join() });
  await lm.release();
}
adapter.destroy();
model.destroy();

const table = rows.map((r) => ({ ...r, tokensPerS: (maxNewTokens / r.ms) * 1000, vsEngine: engine.ms / r.ms }));
if (opts.json) {
  process.stdout.write(`${JSON.stringify({ model: DEFAULT_MODEL.id, maxNewTokens, reps, exportMs, rows: table }, null, 2)}\n`);
} else {
  process.stdout.write(`austen-2m + LoRA r 8 on every linear layer; ONNX export (f32, q8, q4) in ${(exportMs / 1000).toFixed(2)} s; ${maxNewTokens} greedy tokens, median of ${reps}\n\n`);
  process.stdout.write('| runtime | file | MiB | tokens/s | × engine | same tokens as the engine |\n|---|---|---:|---:|---:|---|\n');
  for (const r of table) {
    process.stdout.write(`| ${r.runtime} | ${r.file} | ${r.mib ? r.mib.toFixed(1) : '-'} | ${r.tokensPerS.toFixed(1)} | ${r.vsEngine.toFixed(2)} | ${r.same ? 'yes' : 'no'} |\n`);
  }
}
