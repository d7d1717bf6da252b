/**
 * Bottleneck adapters on the GPU:
 * - on the tiny GPT-2, Llama and Qwen2 (houlsby: after the attention and the MLP; swish, tanh and exact gelu), the logits, the
 *   loss and every adapter tensor's gradient against the float64 reference; KV-cache generation against the
 *   uncached forward (the same forward at the same hook); adapter scale 0 gives the base model;
 * Training on each architecture (the loss falls, AdapterHub's files, export → import) is in
 * weight-methods-train.gpu.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuModel } from '../src/engine/gpu-model';
import { generate } from '../src/engine/generate';
import { forwardLogits, lossAndGrads } from '../src/engine/training-pass';
import { GpuBottleneckSet } from '../src/methods/bottleneck/gpu';
import { bottleneckReference } from '../src/methods/bottleneck/reference';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { referenceForward, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { bottleneckSize, makeBottleneckConfig } from '../src/peft/bottleneck-files';
import { randomBottleneck } from './helpers/random-bottleneck';
import { makeTinyModel } from './fixtures/tiny-models';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const KINDS = [['gpt2', 'swish'], ['llama', 'tanh'], ['qwen2', 'gelu']] as const;
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
