/**
 * Bottleneck adapters on the GPU:
 * - on the tiny GPT-2, Llama and Qwen2 (houlsby: after the attention and the MLP; relu and tanh), the logits, the
 *   loss and every adapter tensor's gradient against the float64 reference; KV-cache generation against the
 *   uncached forward (the same forward at the same hook); adapter scale 0 gives the base model;
 * - training through runTraining (as the CLI and the worker run it): the loss falls, the files are AdapterHub's,
 *   and export → import gives the same logits.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuModel } from '../src/engine/gpu-model';
import { generate } from '../src/engine/generate';
import { forwardLogits, lossAndGrads } from '../src/engine/training-pass';
import { GpuBottleneckSet } from '../src/methods/bottleneck/gpu';
import { bottleneckReference } from '../src/methods/bottleneck/reference';
import { loadAdapterFiles } from '../src/methods/runtimes';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { parseSafetensors } from '../src/model-io/safetensors';
import { loadTokenizer } from '../src/model-io/tokenizer';
import { referenceForward, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { bottleneckSize, makeBottleneckConfig } from '../src/peft/bottleneck-files';
import { DEFAULT_TRAINING } from '../src/trainer/trainer';
import { runTraining, type TrainingBase } from '../src/trainer/training-run';
import { randomBottleneck } from './helpers/random-bottleneck';
import { makeTinyModel } from './fixtures/tiny-models';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const KINDS = [['gpt2', 'relu'], ['llama', 'tanh'], ['qwen2', 'relu']] as const;
const LOGIT_TOL = { atol: 1e-4, rtol: 1e-3 };
const GRAD_TOL = { atol: 2e-5, rtol: 2e-3 };

const models = new Map<string, LoadedModel>();
beforeAll(async () => {
  for (const [kind] of KINDS) {
    models.set(kind, await loadModel(new BrowserFilesSource([...makeTinyModel(kind)].map(([n, b]) => new File([b as Uint8Array<ArrayBuffer>], n)))));
  }
});

const batch = {
  inputIds: [[5, 17, 99, 42, 7, 250], [11, 64, 128, 9, 0, 0]],
  attentionMask: [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]],
  labels: [[5, 17, 99, 42, 7, 250], [-100, 64, 128, 9, -100, -100]],
};

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each(KINDS)('%s: bottleneck adapters against the float64 reference', (kind, act) => {
  it(`houlsby/${act}: logits, every tensor's gradient, cached generation, scale 0`, async () => {
    const m = models.get(kind)!;
    const c = m.config;
    const config = makeBottleneckConfig({ config: 'houlsby', reduction_factor: 8, non_linearity: act }, c, 'tiny');
    const b = bottleneckSize(config, c);
    const inits = randomBottleneck(config, c, 900, 0.2);
    const ref = bottleneckReference(c.hiddenSize, b, act, inits);
    const model = GpuModel.upload(ctx.gpu, c, m.weights, 'f32');
    const set = GpuBottleneckSet.create(ctx.gpu, c.hiddenSize, b, act, inits);
    try {
      const logits = await forwardLogits(ctx.gpu, model, set, batch);
      const want = referenceForward(c, m.weights, batch, ref);
      expectClose(`${kind} logits`, logits, want, LOGIT_TOL);
      expect(maxDiff(want, referenceForward(c, m.weights, batch))).toBeGreaterThan(1e-2); // the adapter does something
      const gpu = await lossAndGrads(ctx.gpu, model, set, batch);
      const wantG = referenceLossAndGrads(c, m.weights, batch, ref);
      expect(Math.abs(gpu.loss - wantG.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(wantG.loss)));
      let worst = 0;
      const grads = await set.readGrads();
      expect([...grads.keys()].sort()).toEqual([...wantG.grads.keys()].sort());
      for (const [name, g] of grads) {
        expectClose(`${kind} d ${name}`, g, wantG.grads.get(name)!, GRAD_TOL);
        worst = Math.max(worst, maxDiff(g, wantG.grads.get(name)!));
        expect(Math.max(...g.map(Math.abs)), name).toBeGreaterThan(1e-7);
      }
      console.log(`${kind} bottleneck: max |gpu − ref| logits ${maxDiff(logits, want)}, grads ${worst}`);

      const prompt = [5, 17, 99];
      const cached = await generate(ctx.gpu, model, set, prompt, { maxNewTokens: 3, eosTokenIds: [] });
      const seq = [...prompt];
      for (let i = 0; i < 3; i++) {
        const l = await forwardLogits(ctx.gpu, model, set, { inputIds: [seq] });
        const last = l.subarray(l.length - c.vocabSize);
        seq.push(last.indexOf(Math.max(...last)));
      }
      expect(cached.tokens).toEqual(seq.slice(prompt.length));

      const base = await forwardLogits(ctx.gpu, model, set, batch, { adapterScale: 0 });
      expectClose(`${kind} scale 0`, base, referenceForward(c, m.weights, batch), LOGIT_TOL);
    } finally {
      set.destroy();
      model.destroy();
    }
  }, 300_000);
});

const DATA = [['cat says', ' meow'], ['dog says', ' woof'], ['cow says', ' moo'], ['owl says', ' hoot']]
  .map(([prompt, completion]) => JSON.stringify({ prompt, completion }))
  .join('\n');

describe('llama: bottleneck training', () => {
  it('learns, exports AdapterHub\'s files, and imports them exactly', async () => {
    const m = models.get('llama')!;
    const model = GpuModel.upload(ctx.gpu, m.config, m.weights, 'f32');
    const tokenizer = loadTokenizer(m.tokenizerJson, m.tokenizerConfig);
    const base: TrainingBase = { gpu: ctx.gpu, config: m.config, weights: m.weights, tokenizer, model, format: 'f32', nameOrPath: 'tiny-llama', revision: null, source: 'tiny' };
    const run = await runTraining({
      data: { text: DATA, fileName: 'task.jsonl' },
      loadBase: async () => base,
      adapter: { method: 'bottleneck', options: { config: 'houlsby', reduction_factor: 4 } },
      settings: { ...DEFAULT_TRAINING, lr: 0.02, schedule: 'constant', maxSteps: 8, batchSize: 4, seed: 3, checkpointEvery: 0 },
      options: { maxLength: 32, valSplit: 0, skipBadRecords: false },
      checkpoints: null,
      resume: false,
      checkpointAtEnd: false,
      log: () => undefined,
    });
    const imported = loadAdapterFiles(base, run.files);
    try {
      const losses = run.log.map((l) => l.loss);
      console.log(`llama bottleneck losses: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
      expect(losses.at(-1)!, losses.map((l) => l.toFixed(3)).join(' ')).toBeLessThan(0.75 * losses[0]);
      const config = JSON.parse(new TextDecoder().decode(run.files.get('adapter_config.json')!));
      expect(config.config).toMatchObject({ architecture: 'bottleneck', mh_adapter: true, reduction_factor: 4 });
      const st = parseSafetensors(run.files.get('adapter.safetensors')!, 'adapter.safetensors');
      expect(st.tensors.get('model.layers.1.attention_adapters.adapters.bottleneck.adapter_up.weight')?.shape).toEqual([32, 8]);
      const probe = { inputIds: [tokenizer.encode('cat says meow')] };
      expect(Array.from(await forwardLogits(ctx.gpu, model, imported, probe))).toEqual(Array.from(await forwardLogits(ctx.gpu, model, run.adapter, probe)));
    } finally {
      imported.destroy();
      run.adapter.destroy();
      model.destroy();
    }
  }, 300_000);
});
